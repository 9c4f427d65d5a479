"""Skipped-range events, CURVE keys from Python, and Ctrl-C during a poll."""
import os
import signal
import subprocess
import sys
import time

import pytest

import brook


def poll_all(c, want, limit=20.0):
    got = []
    deadline = time.monotonic() + limit
    while sum(isinstance(x, brook.Record) for x in got) < want and time.monotonic() < deadline:
        got += c.poll(timeout=0.2)
    return got


def test_records_removed_by_retention_come_as_a_skipped_event(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        p.create_topic("orders", max_records=30)
        p.publish_batch("orders", [f"r{i}" for i in range(100)])
        p.enforce_retention()
        # From offset 0, which retention removed (start="earliest" would
        # start at the low watermark and have nothing to report).
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"], start=0) as c:
            got = poll_all(c, 30)
    events = [x for x in got if isinstance(x, brook.Event)]
    records = [x for x in got if isinstance(x, brook.Record)]
    assert len(events) == 1
    assert events[0].kind == "skipped"
    assert (events[0].from_offset, events[0].to_offset) == (0, 70)
    assert "retention" in events[0].message
    assert isinstance(got[0], brook.Event)  # before the records
    assert [r.offset for r in records] == list(range(70, 100))


def test_curve_keys_from_python(tmp_path):
    server, client, stranger = brook.generate_keys(), brook.generate_keys(), brook.generate_keys()
    assert len(server[0]) == 40 and len(server[1]) == 40 and server != client
    with brook.Producer(str(tmp_path / "j"), durability="nosync", keys=server,
                        allowed_client_keys=[client[0]]) as p:
        p.create_topic("orders")
        p.publish_batch("orders", [f"r{i}" for i in range(50)])
        eps = [(p.pub_endpoint, p.replay_endpoint)]
        with brook.Consumer(eps, ["orders"], keys=client, server_public_key=server[0]) as c:
            records = [x for x in poll_all(c, 50) if isinstance(x, brook.Record)]
            assert [r.offset for r in records] == list(range(50))
        with brook.Consumer(eps, ["orders"], keys=stranger, server_public_key=server[0]) as c:
            assert poll_all(c, 1, limit=1.0) == []
            assert c.stats()["handshakes_failed"] > 0
    with pytest.raises(brook.InvalidArgument, match="server_public_key"):
        brook.Consumer(eps, ["orders"], keys=client, server_public_key="not a key")
    with pytest.raises(brook.InvalidArgument, match="keys"):
        brook.Producer(str(tmp_path / "k"), allowed_client_keys=[client[0]])


CTRL_C_CHILD = r'''
import sys, time, brook
with brook.Producer(sys.argv[1], durability="nosync") as p:
    p.create_topic("orders")
    with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"]) as c:
        print("polling", flush=True)
        start = time.monotonic()
        try:
            c.poll(timeout=60)
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - start:.2f}", flush=True)
'''


def test_ctrl_c_interrupts_a_blocking_poll(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD, str(tmp_path / "j")],
                             stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        assert child.stdout.readline().strip() == "polling"
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=10)
    finally:
        child.kill()
    assert out.startswith("interrupted after")
    assert float(out.split()[-1]) < 2.0
