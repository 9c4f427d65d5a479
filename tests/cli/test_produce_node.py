"""`brook node` and `brook produce`: a node run from a config file, records
published through its ingest endpoint or straight into a journal, every record
read back by a real consumer (the Python bindings) and checked: none lost,
none duplicated, order kept per partition."""
import base64
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import run, spawn, wait_for
from nodes import LineReader


class Node:
    """A `brook node` process; `ready` is its parsed ready line."""

    def __init__(self, config_path, extra=()):
        self.config = config_path
        self.proc = spawn("node", "--json", *extra, config_path)
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().decode()
            self.proc.wait(timeout=10)
            raise AssertionError(f"brook node did not start: {err}")
        self.ready = json.loads(line)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        self.summary = json.loads(out.decode().strip().splitlines()[-1])
        self.stderr = err.decode()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


def write_config(tmp_path, body="", name="node.conf", durability="nosync", ingest=True):
    text = (f"journal = journal\n"
            f"durability = {durability}\n"
            "pub = tcp://127.0.0.1:0\n"
            "replay = tcp://127.0.0.1:0\n"
            "heartbeat_interval = 50ms\n")
    if ingest:
        text += "ingest = ipc://ingest.sock\n"
    path = tmp_path / name
    path.write_text(text + body)
    return str(path)


@pytest.fixture
def node(tmp_path):
    nodes = []

    def start(body="[topic orders]\npartitions = 3\n", **kw):
        n = Node(write_config(tmp_path, body, **kw))
        nodes.append(n)
        return n

    yield start
    for n in nodes:
        n.kill()


def consume_all(brook_py, ready, topic, count, limit=30.0, **kw):
    """Every record of `topic` from the node, until `count` arrived."""
    with brook_py.Consumer([(ready["pub"], ready["replay"])], [topic], **kw) as c:
        got = []
        deadline = time.monotonic() + limit
        while len(got) < count and time.monotonic() < deadline:
            got.extend(r for r in c.poll(timeout=0.2) if isinstance(r, brook_py.Record))
        # Nothing more than expected arrives.
        got.extend(r for r in c.poll(timeout=0.3) if isinstance(r, brook_py.Record))
    return got


def check_dense(records, partitions):
    """Per partition: offsets 0.. dense, each once, in order."""
    by_part = {}
    for r in records:
        by_part.setdefault(r.partition, []).append(r.offset)
    assert set(by_part) <= set(range(partitions))
    for p, offsets in by_part.items():
        assert offsets == list(range(len(offsets))), p
    return by_part


def start_feeder(p):
    """Writes lines r0, r1, ... to p's stdin in chunks of 500 (at most 2,000
    chunks) on a thread, until p stops reading; then closes it."""
    def feed():
        try:
            for chunk in range(2000):
                p.stdin.write(b"".join(b"r%d\n" % i for i in range(chunk * 500, chunk * 500 + 500)))
                p.stdin.flush()
                time.sleep(0.002)
            p.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    return feeder


def test_node_ready_line_and_clean_stop(node):
    n = node()
    r = n.ready
    assert r["event"] == "ready" and len(r["producer"]) == 32 and r["epoch"] == 1
    assert r["durability"] == "nosync" and r["curve"] is False
    assert r["pub"].startswith("tcp://127.0.0.1:") and not r["pub"].endswith(":0")
    assert r["ingest"].startswith("ipc://")
    assert n.stop() == 0
    assert n.summary["event"] == "stopped" and n.summary["records_published"] == 0


def test_produce_lines_every_record_arrives(node, brook_py):
    n = node()
    lines = [f"order-{i}" for i in range(5000)]
    res = run("produce", "--config", n.config, "orders", input="\n".join(lines) + "\n", check=0)
    assert res.out == b""
    got = consume_all(brook_py, n.ready, "orders", len(lines))
    assert len(got) == len(lines)
    check_dense(got, 3)
    # Keyless records spread over partitions; every line arrived exactly once.
    assert sorted(r.payload.decode() for r in got) == sorted(lines)
    assert n.stop() == 0
    assert n.summary["ingest_records"] == len(lines)


def test_produce_ack_keys_and_partitions(node, brook_py):
    n = node()
    text = "".join(f"customer-{i % 4}:order-{i}\n" for i in range(40))
    # --key-separator splits plain lines; with --json the key is a field.
    res = run("produce", "--config", n.config, "orders", "--key-separator", ":", "--json",
              input=text)
    assert res.code == 2 and "--key-separator" in res.errtext
    # Plain lines given as JSON are refused, naming the line.
    res = run("produce", "--config", n.config, "orders", "--json", input=text)
    assert res.code == 1 and "input line 1" in res.errtext
    res = run("produce", "--config", n.config, "orders", "--key-separator", ":", "--ack",
              input=text, check=0)
    acks = res.text.splitlines()
    assert len(acks) == 40
    got = consume_all(brook_py, n.ready, "orders", 40)
    by_part = check_dense(got, 3)
    assert sum(len(v) for v in by_part.values()) == 40
    # One key, one partition; the ack names where each record landed.
    part_of_key = {}
    for r in got:
        part_of_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(v) == 1 for v in part_of_key.values()) and len(part_of_key) == 4
    landed = {(r.partition, r.offset): r.payload.decode() for r in got}
    for i, line in enumerate(acks):
        words = line.split()
        assert words[0] == "orders" and words[1] == "partition" and words[3] == "offset"
        assert landed[(int(words[2]), int(words[4]))] == f"order-{i}"


def test_produce_json_records(node, brook_py):
    n = node()
    lines = [
        json.dumps({"key": "k1", "headers": {"source": "web", "trace": "t-1"}, "payload": "hello"}),
        json.dumps({"key": None, "payload": {"order": 7, "items": [1, 2]}, "partition": 2}),
        json.dumps({"payload_base64": base64.b64encode(b"\xff\x00bytes").decode(),
                    "key_base64": base64.b64encode(b"\x80k").decode(),
                    "headers_base64": {base64.b64encode(b"h").decode():
                                       base64.b64encode(b"\xfe").decode()},
                    "partition": 1}),
        json.dumps({"payload": "caf\u00e9 \u2603", "partition": 1}),
        "{}",
    ]
    res = run("produce", "--config", n.config, "orders", "--json", "--ack",
              input="\n".join(lines) + "\n", check=0)
    acks = res.json_lines()
    assert [a["line"] for a in acks] == [1, 2, 3, 4, 5]
    assert acks[1]["partition"] == 2 and acks[2]["partition"] == 1
    got = consume_all(brook_py, n.ready, "orders", 5)
    at = {(r.partition, r.offset): r for r in got}
    rec = [at[(a["partition"], a["offset"])] for a in acks]
    assert rec[0].key == b"k1" and rec[0].payload == b"hello"
    assert dict(rec[0].headers) == {"source": b"web", "trace": b"t-1"}
    assert rec[1].key is None and json.loads(rec[1].payload) == {"order": 7, "items": [1, 2]}
    # Bytes that are not text travel base64; escaped text (json.dumps) is UTF-8.
    assert rec[2].payload == b"\xff\x00bytes" and rec[2].key == b"\x80k"
    assert dict(rec[2].headers) == {"h": b"\xfe"}
    assert rec[3].payload == "caf\u00e9 \u2603".encode()
    assert rec[4].payload == b"" and rec[4].key is None


def test_consume_json_piped_into_produce_copies_every_record_exactly(node, tmp_path):
    """`brook consume --json | brook produce --json` copies a topic to another
    node: the same partitions, offsets, keys, headers and payload bytes,
    text and binary alike."""
    a = node()
    lines = []
    for i in range(60):
        if i % 3 == 0:
            rec = {"key_base64": base64.b64encode(b"\xff%d" % i).decode(),
                   "payload_base64": base64.b64encode(bytes([i, 0x80, 0xfe])).decode(),
                   "headers_base64": {base64.b64encode(b"raw").decode():
                                      base64.b64encode(b"\xc3").decode()},
                   "headers": {"n": str(i)}}
        else:
            rec = {"key": "k%d" % (i % 5), "payload": "caf\u00e9 %d \"q\"\n" % i,
                   "headers": {"n": str(i)}}
        lines.append(json.dumps(rec))
    run("produce", "--config", a.config, "orders", "--json", input="\n".join(lines) + "\n",
        check=0)
    (tmp_path / "b").mkdir()
    b = Node(write_config(tmp_path / "b", "[topic orders]\npartitions = 3\n"))
    try:
        exported = run("consume", "orders", "--pub", a.ready["pub"], "--replay", a.ready["replay"],
                       "--json", check=0).text
        assert len(exported.splitlines()) == 60
        run("produce", "--config", b.config, "orders", "--json", input=exported, check=0)
        copied = run("consume", "orders", "--pub", b.ready["pub"], "--replay", b.ready["replay"],
                     "--json", check=0).text

        def content(text):
            recs = [json.loads(x) for x in text.splitlines()]
            for r in recs:
                for k in ("producer", "timestamp", "timestamp_ns"):
                    r.pop(k)
            return sorted(recs, key=lambda r: (r["partition"], r["offset"]))

        original = content(exported)
        assert content(copied) == original
        assert sum("payload_base64" in r for r in original) == 20
        for r in original:
            n = int(r["headers"]["n"])
            if n % 3 == 0:
                assert base64.b64decode(r["payload_base64"]) == bytes([n, 0x80, 0xfe])
                assert r["headers_base64"] == {base64.b64encode(b"raw").decode():
                                               base64.b64encode(b"\xc3").decode()}
            else:
                assert r["payload"] == "caf\u00e9 %d \"q\"\n" % n
    finally:
        b.kill()


def test_produce_skips_consume_event_lines_and_keeps_line_numbers(node, brook_py):
    n = node()
    event = {"event": "skipped", "producer": "ab" * 16, "topic": "orders", "partition": 0,
             "from": 0, "to": 9, "message": "offsets 0..8 of orders/0 were removed"}
    lines = [json.dumps({"payload": "one", "partition": 0}), json.dumps(event),
             json.dumps({"payload": "two", "partition": 0, "offset": 99, "topic": "elsewhere",
                         "timestamp_ns": 5, "timestamp": "x", "producer": "cd"})]
    res = run("produce", "--config", n.config, "orders", "--json", "--ack",
              input="\n".join(lines) + "\n", check=0)
    assert 'input line 2 is a "skipped" event of `brook consume`, not a record' in res.errtext
    acks = res.json_lines()
    assert [(a["line"], a["partition"], a["offset"]) for a in acks] == [(1, 0, 0), (3, 0, 1)]
    got = consume_all(brook_py, n.ready, "orders", 2)
    assert [(r.partition, r.offset, r.payload) for r in got] == [(0, 0, b"one"), (0, 1, b"two")]


def test_a_refused_request_is_reported_after_the_acks_before_it(node, brook_py):
    """The node refuses a request at once (a partition that does not exist)
    while earlier ones wait for their commit: produce still prints every ack
    in order, names the refused line, and what it acknowledged is exactly
    what the topic holds."""
    n = node()
    lines = [json.dumps({"payload": "r%d" % i, "partition": 99 if i == 30 else i % 3})
             for i in range(60)]
    res = run("produce", "--config", n.config, "orders", "--json", "--ack", "--batch", "1",
              input="\n".join(lines) + "\n", check=1)
    assert "input lines 31..31 were not published" in res.errtext, res.errtext
    acks = res.json_lines()
    acked_lines = [a["line"] for a in acks]
    assert acked_lines == sorted(acked_lines) and 31 not in acked_lines
    assert acked_lines[:30] == list(range(1, 31))
    got = consume_all(brook_py, n.ready, "orders", len(acks), limit=10)
    check_dense(got, 3)
    assert sorted((r.partition, r.offset, r.payload) for r in got) == sorted(
        (a["partition"], a["offset"], b"r%d" % (a["line"] - 1)) for a in acks)


def test_produce_header_option_and_fixed_partition(node, brook_py):
    n = node()
    run("produce", "--config", n.config, "orders", "--header", "app=cli", "--header", "v=2",
        "--partition", "1", "--key", "same", input="a\nb\nc\n", check=0)
    got = consume_all(brook_py, n.ready, "orders", 3)
    assert [(r.partition, r.offset, r.payload) for r in got] == [
        (1, 0, b"a"), (1, 1, b"b"), (1, 2, b"c")]
    assert all(dict(r.headers) == {"app": b"cli", "v": b"2"} and r.key == b"same" for r in got)


def test_produce_creates_topic_only_when_asked(node, brook_py):
    n = node()
    res = run("produce", "--config", n.config, "fresh", input="x\n")
    assert res.code == 1 and "fresh" in res.errtext and "--partitions" in res.errtext
    run("produce", "--config", n.config, "fresh", "--partitions", "2", input="x\ny\n", check=0)
    got = consume_all(brook_py, n.ready, "fresh", 2)
    assert sorted(r.payload for r in got) == [b"x", b"y"]


def test_bad_json_line_names_it_and_earlier_lines_are_published(node, brook_py):
    n = node()
    lines = ['{"payload": "one"}', '{"payload": "two"}', '{"payload": oops}', '{"payload": "four"}']
    res = run("produce", "--config", n.config, "orders", "--json", "--partition", "0",
              input="\n".join(lines) + "\n")
    assert res.code == 1 and "input line 3" in res.errtext
    # The line before the bad one made it, in one piece; nothing after it.
    got = consume_all(brook_py, n.ready, "orders", 2, limit=5)
    assert [r.payload for r in got] == [b"one", b"two"]


def test_produce_into_a_journal_then_a_node_serves_it(tmp_path, brook_py):
    jdir = str(tmp_path / "journal")
    res = run("produce", "--journal", jdir, "orders", input="a\n")
    assert res.code == 1 and "no journal" in res.errtext and "--partitions" in res.errtext
    run("produce", "--journal", jdir, "--partitions", "2", "--durability", "nosync",
        "orders", "--key", "k", input="".join(f"r{i}\n" for i in range(300)), check=0)
    n = Node(write_config(tmp_path, "[topic orders]\npartitions = 2\n"))
    try:
        # While the node has it open, direct appends are refused with advice.
        res = run("produce", "--journal", jdir, "orders", input="b\n")
        assert res.code == 1 and "--config" in res.errtext
        got = consume_all(brook_py, n.ready, "orders", 300)
        assert [r.payload for r in got] == [f"r{i}".encode() for i in range(300)]
        check_dense(got, 2)
        assert n.stop() == 0
    finally:
        n.kill()


def test_interactive_lines_go_out_before_eof(node, brook_py):
    """A line typed by hand is published at once, not when stdin closes."""
    n = node()
    p = spawn("produce", "--config", n.config, "orders", "--ack", stdin=subprocess.PIPE)
    try:
        out = LineReader(p.stdout)
        p.stdin.write(b"first\n")
        p.stdin.flush()
        # Its ack comes while stdin stays open.
        wait_for(lambda: out.count() == 1, what="the first line's ack")
        p.stdin.write(b"second\n")
        p.stdin.flush()
        wait_for(lambda: out.count() == 2, what="the second line's ack")
        p.stdin.close()
        assert p.wait(timeout=30) == 0
        acks = out.join()
        assert [a.split()[:2] for a in acks] == [[b"orders", b"partition"]] * 2
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def test_node_stop_during_produce_loses_no_acknowledged_record(node, brook_py, tmp_path):
    """SIGTERM to a node while records stream in: every record it acknowledged
    is in its journal, and the records are the input's first ones, in order."""
    n = node(body="[topic orders]\npartitions = 1\n")
    acks_path = tmp_path / "acks.txt"
    with open(acks_path, "wb") as acks:
        p = spawn("produce", "--config", n.config, "orders", "--ack", "--timeout", "2s",
                  stdin=subprocess.PIPE, stdout=acks)

    feeder = start_feeder(p)
    try:
        wait_for(lambda: acks_path.stat().st_size > 0, timeout=20, what="a first ack")
        assert n.stop() == 0
        p.wait(timeout=30)
        feeder.join(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    acked = len(acks_path.read_bytes().splitlines())
    journal_records = n.summary["ingest_records"]
    # Every record acknowledged to the client is in the journal.
    assert 0 < acked <= journal_records
    if journal_records < 2000 * 500:
        assert p.returncode == 1  # it could not publish everything: it says so
    n2 = Node(n.config)
    try:
        got = consume_all(brook_py, n2.ready, "orders", journal_records)
        assert [r.payload for r in got] == [b"r%d" % i for i in range(journal_records)]
    finally:
        n2.kill()


def test_ctrl_c_during_produce_waits_for_the_acks_of_what_was_sent(node, brook_py, tmp_path):
    """SIGINT to brook produce while records stream in: it stops reading, but
    waits for the node's answers to what it had sent, so every record in the
    journal was reported acknowledged (none left unsaid), and says where it
    stopped."""
    n = node(body="[topic orders]\npartitions = 1\n", durability="fsync")
    acks_path = tmp_path / "acks.txt"
    with open(acks_path, "wb") as acks:
        p = spawn("produce", "--config", n.config, "orders", "--ack", "--batch", "100",
                  stdin=subprocess.PIPE, stdout=acks)

    feeder = start_feeder(p)
    try:
        wait_for(lambda: acks_path.stat().st_size > 0, timeout=20, what="a first ack")
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
        err = p.stderr.read().decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        try:
            p.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        feeder.join(timeout=30)
    assert p.returncode == 1 and "interrupted" in err, err
    acked = [line.split() for line in acks_path.read_bytes().splitlines()]
    assert n.stop() == 0
    journal_records = n.summary["ingest_records"]
    assert 0 < len(acked) == journal_records
    assert [int(a[-1]) for a in acked] == list(range(journal_records))


def test_a_restarted_node_keeps_its_topics_creation_time(tmp_path):
    """The config creates its topics at every start: that updates retention
    but not when the topic was created."""
    config = write_config(tmp_path, "[topic orders]\npartitions = 2\n")

    def created():
        stats = json.loads(run("journal", "stats", str(tmp_path / "journal"), "--json",
                               check=0).text)
        return {t["name"]: t["created_ns"] for t in stats["topics"]}

    n = Node(config)
    assert n.stop() == 0
    first = created()
    time.sleep(0.05)
    n = Node(config)
    assert n.stop() == 0
    assert created() == first


def test_node_config_errors(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("journal = j\npub = tcp://127.0.0.1:0\nreplay = tcp://127.0.0.1:0\nspeed = 11\n")
    res = run("node", str(bad))
    assert res.code == 1 and f"{bad}:4" in res.errtext and "unknown setting 'speed'" in res.errtext
    bad.write_text("journal = j\npub = tcp://127.0.0.1:0\n")
    res = run("node", str(bad))
    assert res.code == 1 and "replay" in res.errtext
    bad.write_text("journal = j\npub = tcp://127.0.0.1:0\nreplay = tcp://127.0.0.1:0\n"
                   "ingest = tcp://0.0.0.0:7999\n")
    res = run("node", str(bad))
    assert res.code == 1 and "loopback" in res.errtext
    bad.write_text("journal = j\npub = tcp://127.0.0.1:0\nreplay = tcp://127.0.0.1:0\n"
                   "[topic t]\npartitions = 0\n")
    res = run("node", str(bad))
    assert res.code == 1 and f"{bad}:5" in res.errtext
    res = run("node", str(tmp_path / "missing.conf"))
    assert res.code == 1 and "missing.conf" in res.errtext


def test_node_refuses_a_partition_count_change(tmp_path):
    cfg = write_config(tmp_path, "[topic orders]\npartitions = 2\n")
    n = Node(cfg)
    assert n.stop() == 0
    cfg = write_config(tmp_path, "[topic orders]\npartitions = 5\n")
    res = run("node", cfg)
    assert res.code == 1 and "orders" in res.errtext and "AlreadyExists" in res.errtext


def test_curve_node_with_key_files(tmp_path, brook_py):
    server_pub, server_sec = brook_py.generate_keys()
    client_pub, client_sec = brook_py.generate_keys()
    (tmp_path / "node.key").write_text(server_pub + "\n")
    (tmp_path / "node.key.secret").write_text(server_sec + "\n")
    os.chmod(tmp_path / "node.key.secret", 0o600)
    (tmp_path / "clients.keys").write_text(f"# billing\n{client_pub}\n")
    cfg = write_config(tmp_path, "[security]\nserver_key = node.key\n"
                                 "allowed_client_keys = clients.keys\n"
                                 "[topic orders]\npartitions = 1\n")
    n = Node(cfg)
    try:
        assert n.ready["curve"] is True
        run("produce", "--config", cfg, "orders", input="secret-1\nsecret-2\n", check=0)
        got = consume_all(brook_py, n.ready, "orders", 2, keys=(client_pub, client_sec),
                          server_public_key=server_pub)
        assert [r.payload for r in got] == [b"secret-1", b"secret-2"]
        # SIGHUP reloads the allow-list (here: emptied of its only key is refused).
        (tmp_path / "clients.keys").write_text("")
        n.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert n.stop() == 0
        assert "allowed client keys not reloaded" in n.stderr
    finally:
        n.kill()


def test_produce_without_a_node_times_out_clearly(tmp_path):
    res = run("produce", "--ingest", f"ipc://{tmp_path}/nobody.sock", "--timeout", "500ms",
              "orders", input="x\n")
    assert res.code == 1 and "no answer" in res.errtext and "brook node" in res.errtext


def test_produce_usage_errors(tmp_path):
    assert run("produce", input="").code == 2
    assert run("produce", "orders", input="").code == 2  # nowhere to publish
    assert run("produce", "--ingest", "ipc://x", "--journal", "j", "orders").code == 2
    assert run("produce", "--ingest", "ipc://x", "--batch", "0", "orders").code == 2
    assert run("produce", "--ingest", "ipc://x", "--bogus", "orders").code == 2
    res = run("produce", "--help", check=0)
    assert "--key-separator" in res.text and "--partitions" in res.text
    res = run("node", "--help", check=0)
    assert "[topic orders]" in res.text
