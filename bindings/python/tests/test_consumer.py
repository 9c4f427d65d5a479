"""Consumer features from Python: iteration, start by time, lag, and resuming
after the consumer process is killed with SIGKILL (at least once, never a
skip)."""
import os
import signal
import subprocess
import sys
import time

import pytest

import brook

CHILD = r'''
import sys, brook
pub, replay, state = sys.argv[1:4]
with brook.Consumer([(pub, replay)], ["orders"], name="billing", state_dir=state) as c:
    for item in c:
        if isinstance(item, brook.Record):
            print(item.partition, item.offset, flush=True)
'''


def records_of(items):
    return [x for x in items if isinstance(x, brook.Record)]


def test_iteration_yields_every_record_in_order(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        p.create_topic("orders")
        p.publish_batch("orders", [f"r{i}" for i in range(300)])
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"]) as c:
            got = []
            deadline = time.monotonic() + 20
            for item in c:
                got.append(item)
                if len(got) == 300 or time.monotonic() > deadline:
                    break
        assert [r.offset for r in got] == list(range(300))
        assert [r.payload for r in got] == [f"r{i}".encode() for i in range(300)]


def test_start_by_time_and_lag(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync",
                        heartbeat_interval=0.05) as p:
        p.create_topic("orders")
        p.publish_batch("orders", [b"old"] * 50)
        time.sleep(0.05)
        cut = time.time()
        time.sleep(0.05)
        p.publish_batch("orders", [b"new"] * 20)
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"],
                            start=cut) as c:
            got = []
            deadline = time.monotonic() + 20
            while len(got) < 20 and time.monotonic() < deadline:
                got += records_of(c.poll(timeout=0.2))
            assert [r.offset for r in got] == list(range(50, 70))
            assert all(r.payload == b"new" for r in got)
            lag = c.lag()
            assert len(lag) == 1
            assert lag[0]["topic"] == "orders" and lag[0]["high_watermark"] == 70
            assert lag[0]["next"] == 70 and lag[0]["records"] == 0


def run_child(p, state):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, p.pub_endpoint, p.replay_endpoint, state],
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))


def read_lines(child, count=None, until_offset=None, limit=30.0):
    """(partition, offset) lines the child prints: `count` of them, or up to
    the one with `until_offset`, or all until it dies; at most `limit` s."""
    lines = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if count is not None and len(lines) >= count:
            break
        if until_offset is not None and lines and lines[-1][1] >= until_offset:
            break
        line = child.stdout.readline()
        if not line.endswith("\n"):
            break  # the end, or a line cut short by SIGKILL
        lines.append(tuple(int(x) for x in line.split()))
    return lines


def test_a_consumer_killed_with_sigkill_resumes_at_least_once(tmp_path):
    total = 3000
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        p.create_topic("orders")
        state = str(tmp_path / "state")
        p.publish_batch("orders", [f"r{i}" for i in range(1500)])
        first = run_child(p, state)
        seen1 = read_lines(first, count=1500)
        time.sleep(1.2)
        # Records processed after the commit interval: an automatic commit.
        p.publish_batch("orders", [f"r{i}" for i in range(1500, 2000)])
        seen1 += read_lines(first, count=100)
        first.send_signal(signal.SIGKILL)
        first.wait()
        seen1 += read_lines(first)  # what it printed before dying
        p.publish_batch("orders", [f"r{i}" for i in range(2000, total)])  # while it is down
        second = run_child(p, state)
        try:
            seen2 = read_lines(second, until_offset=total - 1)
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait()
    offsets1 = [o for _, o in seen1]
    offsets2 = [o for _, o in seen2]
    assert offsets1 == list(range(len(offsets1)))
    # Resumed at or before where the first stopped: never a skip.
    assert offsets2[0] <= len(offsets1)
    assert offsets2 == list(range(offsets2[0], offsets2[0] + len(offsets2)))
    assert offsets2[-1] == total - 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_callback_form_on_the_library_thread(tmp_path):
    import threading
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        p.create_topic("orders", partitions=2)
        for part in range(2):
            p.publish_batch("orders", [f"{part}:{i}" for i in range(200)], partition=part)
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"]) as c:
            got = []
            threads = set()
            done = threading.Event()

            def on_item(item):
                threads.add(threading.get_ident())
                got.append(item)
                if len(got) == 400:
                    done.set()
                if len(got) == 10:
                    raise ValueError("a failing callback does not stop delivery")

            c.start(on_item, max_records=50)
            assert done.wait(20)
            try:
                c.poll(timeout=0)
                raise AssertionError("poll must refuse while started")
            except brook.FailedPrecondition:
                pass
            c.stop()
        assert threading.get_ident() not in threads
        for part in range(2):
            mine = [r for r in got if r.partition == part]
            assert [r.offset for r in mine] == list(range(200))
            assert [r.payload for r in mine] == [f"{part}:{i}".encode() for i in range(200)]


def test_start_latest_gets_only_new_records(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync",
                        heartbeat_interval=0.05) as p:
        p.create_topic("orders")
        p.publish_batch("orders", [b"old"] * 30)
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"],
                            start="latest") as c:
            deadline = time.monotonic() + 10
            while not c.lag() and time.monotonic() < deadline:
                c.poll(timeout=0.1)  # until the consumer knows the partition
            p.publish_batch("orders", [b"new"] * 10)
            got = []
            deadline = time.monotonic() + 20
            while len(got) < 10 and time.monotonic() < deadline:
                got += records_of(c.poll(timeout=0.2))
    assert [r.offset for r in got] == list(range(30, 40))
    assert all(r.payload == b"new" for r in got)
