"""A C++ producer process to a Python consumer, and a Python producer to a C++
consumer process, every record checked. The C++ programs are brook's test
children (tests/producer_child.cc, tests/consumer_child.cc), found in
$BROOK_TEST_BIN_DIR (scripts/test.sh sets it) or build/tests."""
import os
import signal
import subprocess
import time

import pytest

import brook

BIN = os.environ.get("BROOK_TEST_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "build", "tests")


def binary(name):
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build the C++ tests first, or set BROOK_TEST_BIN_DIR")
    return path


def stream_payload(topic, partition, offset):
    """tests/delivery_check.h's StreamPayload, in Python (64-bit wrap)."""
    m = (1 << 64) - 1
    p = f"{topic}/{partition}@{offset};"
    x = (((offset + 1) * 0x9E3779B97F4A7C15) & m) ^ (((partition + 1) * 0xBF58476D1CE4E5B9) & m)
    length = len(p) + (x >> 58)
    while len(p) < length:
        x ^= (x << 13) & m
        x ^= x >> 7
        x ^= (x << 17) & m
        p += chr(ord("a") + x % 26)
    return p.encode()


def test_cpp_producer_to_python_consumer(tmp_path):
    pub, replay = f"ipc://{tmp_path}/pub", f"ipc://{tmp_path}/replay"
    child = subprocess.Popen(
        [binary("producer_child"), str(tmp_path / "j"), pub, replay, "nosync", "orders", "3",
         "hw", "400"], stdout=subprocess.PIPE, text=True)
    try:
        producer_id = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line and not line.startswith("error"), line
            if line.startswith("id "):
                producer_id = line.split()[1]
            if line.strip() == "done":
                break
        with brook.Consumer([(pub, replay)], ["orders"]) as c:
            records = []
            deadline = time.monotonic() + 20
            while len(records) < 1200 and time.monotonic() < deadline:
                records += [x for x in c.poll(timeout=0.2) if isinstance(x, brook.Record)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert len(records) == 1200
    for part in range(3):
        mine = [r for r in records if r.partition == part]
        assert [r.offset for r in mine] == list(range(400))
        for r in mine:
            assert r.payload == stream_payload("orders", part, r.offset)
            assert r.producer == producer_id


def test_python_producer_to_cpp_consumer(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync",
                        heartbeat_interval=0.05) as p:
        p.create_topic("orders", partitions=2)
        for part in range(2):
            p.publish_batch("orders", [stream_payload("orders", part, o) for o in range(300)],
                            partition=part)
        child = subprocess.Popen(
            [binary("consumer_child"), p.pub_endpoint, p.replay_endpoint,
             str(tmp_path / "state"), "billing", "orders"], stdout=subprocess.PIPE, text=True)
        try:
            seen = {0: [], 1: []}
            deadline = time.monotonic() + 30
            while sum(map(len, seen.values())) < 600 and time.monotonic() < deadline:
                line = child.stdout.readline()
                if not line.endswith("\n"):
                    break
                kind, part, offset = line.split()
                assert kind == "r"
                seen[int(part)].append(int(offset))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert seen == {0: list(range(300)), 1: list(range(300))}
