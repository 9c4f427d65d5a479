"""brook consume against real producers on 127.0.0.1 (the Python bindings):
every record once, in order; raw and JSON output; start positions; --count;
the end vs --follow; named positions; CURVE; errors."""
import base64
import datetime
import json
import signal
import subprocess
import time

from conftest import run, wait_for
from nodes import (LineReader, env_with, key_in, node_args, running, start_producer,
                   write_config)


def publish_numbered(p, topic, n, start=0):
    """Publishes payloads "r<i>" keyed "k<i % 29>"; returns {(partition, offset): payload}."""
    where = {}
    for i in range(start, start + n):
        partition, offset = p.publish(topic, f"r{i}", key=f"k{i % 29}")
        where[(partition, offset)] = f"r{i}".encode()
    return where


def check_exactly_once(records, published):
    """Every published record once, and per partition in offset order from 0."""
    got = {}
    per_partition = {}
    for r in records:
        at = (r["partition"], r["offset"])
        assert at not in got, f"duplicate {at}"
        got[at] = r["payload"].encode()
        per_partition.setdefault(r["partition"], []).append(r["offset"])
    assert got == published
    for partition, offsets in per_partition.items():
        assert offsets == list(range(len(offsets))), partition


def test_every_record_once_in_order_raw_and_json(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("orders", partitions=4)
        published = publish_numbered(p, "orders", 400)
        assert len({part for part, _ in published}) == 4
        r = run("consume", "orders", *node_args(p), check=0)
        assert sorted(r.out.splitlines()) == sorted(published.values())
        j = run("consume", "orders", *node_args(p), "--json", check=0)
        records = j.json_lines()
        assert len(records) == 400
        check_exactly_once(records, published)
        assert {x["producer"] for x in records} == {p.producer_id}
        assert {x["topic"] for x in records} == {"orders"}


def test_large_topic_prints_every_record(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("big", partitions=2)
        payloads = [f"payload-{i}" for i in range(100_000)]
        for i in range(0, len(payloads), 10_000):
            p.publish_batch("big", payloads[i:i + 10_000])
        r = run("consume", "big", *node_args(p), check=0)
        lines = r.out.splitlines()
        assert len(lines) == 100_000
        assert set(lines) == {x.encode() for x in payloads}


def test_json_keys_headers_and_bytes(cli, tmp_path, brook_py):
    binary = bytes(range(256))
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t")
        p.publish("t", binary, key=b"\xffkey", headers={"type": "bin", "raw": b"\x00\x01"})
        p.publish("t", "héllo ✓ \"quoted\"\n", key="")
        p.publish("t", "no key")
        records = run("consume", "t", *node_args(p), "--json", check=0).json_lines()
        a, b, c = records
        # JSON strings are text: bytes that are not UTF-8 go base64 instead.
        assert "payload" not in a and base64.b64decode(a["payload_base64"]) == binary
        assert "key" not in a and base64.b64decode(a["key_base64"]) == b"\xffkey"
        # Control characters are UTF-8 text, escaped by JSON itself.
        assert a["headers"] == {"type": "bin", "raw": "\u0000\u0001"}
        assert b["payload"] == "héllo ✓ \"quoted\"\n" and b["key"] == "" and b["headers"] == {}
        assert c["key"] is None and c["payload"] == "no key"
        for x in records:
            stamp = datetime.datetime.fromtimestamp(x["timestamp_ns"] // 10**9,
                                                    datetime.timezone.utc)
            assert x["timestamp"].startswith(stamp.strftime("%Y-%m-%dT%H:%M:%S."))
            assert x["timestamp"].endswith("Z")
        for x in (b, c):
            assert set(x) == {"producer", "topic", "partition", "offset", "timestamp_ns",
                              "timestamp", "key", "headers", "payload"}
        # Raw output is the payload's bytes and a newline, unescaped.
        raw = run("consume", "t", *node_args(p), check=0).out
        assert raw == binary + b"\n" + "héllo ✓ \"quoted\"\n".encode() + b"\n" + b"no key\n"


def test_from_offset_latest_and_time(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t")
        p.publish_batch("t", [f"old{i}" for i in range(10)])
        time.sleep(0.05)
        middle = time.time_ns()
        time.sleep(0.05)
        p.publish_batch("t", [f"new{i}" for i in range(5)])
        args = ["consume", "t", *node_args(p)]

        offsets = [x["offset"] for x in run(*args, "--from", "7", "--json", check=0).json_lines()]
        assert offsets == list(range(7, 15))
        assert run(*args, "--from", "latest", check=0).out == b""
        assert run(*args, "--from", "1000", check=0).out == b""
        assert len(run(*args, "--from", "earliest", check=0).out.splitlines()) == 15

        new = [f"new{i}".encode() for i in range(5)]
        at = f"@{middle / 1e9:.6f}"
        assert run(*args, "--from", at, check=0).out.splitlines() == new
        rfc3339 = datetime.datetime.fromtimestamp(middle / 1e9, datetime.timezone.utc)
        text = rfc3339.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert run(*args, "--from", text, check=0).out.splitlines() == new
        assert len(run(*args, "--from", "-1h", check=0).out.splitlines()) == 15
        # A time after every record: nothing, and the end is reached at once.
        assert run(*args, "--from", "@4102444800", check=0).out == b""


def test_count_stops_after_n_records(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t", partitions=3)
        publish_numbered(p, "t", 30)
        r = run("consume", "t", *node_args(p), "--count", "7", "--json", check=0)
        records = r.json_lines()
        assert len(records) == 7
        assert len({(x["partition"], x["offset"]) for x in records}) == 7
        # More than there is: stops at the end with what there is.
        assert len(run("consume", "t", *node_args(p), "--count", "100",
                       check=0).out.splitlines()) == 30
        # With --follow, --count is what ends it.
        r = run("consume", "t", *node_args(p), "--count", "12", "--follow", check=0)
        assert len(r.out.splitlines()) == 12


def test_follow_gets_new_records_and_sigterm_ends_cleanly(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t", partitions=2)
        published = publish_numbered(p, "t", 10)
        with running("consume", "t", *node_args(p), "--follow", "--json") as proc:
            reader = LineReader(proc.stdout)
            wait_for(lambda: reader.count() >= 10, what="the first 10 records")
            published.update(publish_numbered(p, "t", 10, start=10))
            wait_for(lambda: reader.count() >= 20, what="the records published after the start")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, proc.stderr.read()
        lines = reader.join()
        check_exactly_once([json.loads(l) for l in lines], published)


def test_exit_at_end_ends_while_the_producer_goes_on(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t")
        p.publish_batch("t", [f"r{i}" for i in range(50)])
        with running("consume", "t", *node_args(p), "--exit-at-end") as proc:
            reader = LineReader(proc.stdout)
            for i in range(200):  # publishing the whole time
                p.publish("t", f"late{i}")
                if proc.poll() is not None:
                    break
                time.sleep(0.005)
            assert proc.wait(timeout=20) == 0, proc.stderr.read()
        lines = reader.join()
        # At least what was there at the start, in order, and nothing twice.
        assert lines[:50] == [f"r{i}\n".encode() for i in range(50)]
        assert len(set(lines)) == len(lines)


def test_named_consumer_resumes_where_it_stopped(cli, tmp_path, brook_py):
    state = tmp_path / "state"
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t", partitions=3)
        first = publish_numbered(p, "t", 30)
        args = ["consume", "t", *node_args(p), "--name", "audit", "--state-dir", state, "--json"]
        check_exactly_once(run(*args, check=0).json_lines(), first)
        second = publish_numbered(p, "t", 12, start=30)
        again = run(*args, check=0).json_lines()
        assert {(x["partition"], x["offset"]): x["payload"].encode() for x in again} == second
        assert run(*args, check=0).out == b""
        # Another name has its own position; --from applies to it alone.
        other = run("consume", "t", *node_args(p), "--name", "other", "--state-dir", state,
                    "--from", "latest", check=0)
        assert other.out == b""
        # --count stores the position after the records printed, no further.
        third = publish_numbered(p, "t", 9, start=42)
        part = run(*args, "--count", "4", check=0).json_lines()
        rest = run(*args, check=0).json_lines()
        assert len(part) == 4
        assert {(x["partition"], x["offset"]): x["payload"].encode()
                for x in part + rest} == third
        # A stored position beats --from: a time after every record still
        # gets what the consumer has not processed yet.
        fourth = publish_numbered(p, "t", 6, start=51)
        part = run(*args, "--count", "2", check=0).json_lines()
        rest = run(*args, "--from", "@4102444800", check=0).json_lines()
        assert {(x["partition"], x["offset"]): x["payload"].encode()
                for x in part + rest} == fourth


def test_named_consumer_default_state_dir(cli, tmp_path, brook_py):
    env = env_with(XDG_STATE_HOME=str(tmp_path / "xdg" / "state"))
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t")
        p.publish_batch("t", ["a", "b"])
        cmd = [cli, "consume", "t", *node_args(p), "--name", "n1"]
        out = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
        assert out.returncode == 0 and out.stdout == b"a\nb\n", out
        assert (tmp_path / "xdg" / "state" / "brook").is_dir()
        p.publish("t", "c")
        out = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
        assert out.returncode == 0 and out.stdout == b"c\n", out


def test_several_producers(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "a") as a, \
            start_producer(brook_py, tmp_path / "b") as b:
        for p, name in ((a, "a"), (b, "b")):
            p.create_topic("t", partitions=2)
            p.publish_batch("t", [f"{name}{i}" for i in range(20)])
        records = run("consume", "t", *node_args(a), *node_args(b), "--json",
                      check=0).json_lines()
        assert len(records) == 40
        assert {x["producer"] for x in records} == {a.producer_id, b.producer_id}
        assert {x["payload"] for x in records} == {f"{n}{i}" for n in "ab" for i in range(20)}


def test_events_go_to_stderr_and_json_lines(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t", max_records=30)
        p.publish_batch("t", [f"r{i}" for i in range(100)])
        p.enforce_retention()
        # From offset 0: below the low watermark, the removed part is said.
        r = run("consume", "t", *node_args(p), "--from", "0", "--json", check=0)
        lines = r.json_lines()
        event, records = lines[0], lines[1:]
        assert event["event"] == "skipped" and event["topic"] == "t"
        assert event["producer"] == p.producer_id
        assert event["from"] == 0 and event["to"] == 100 - len(records)
        assert "retention" in event["message"]
        assert [x["offset"] for x in records] == list(range(event["to"], 100))
        assert "brook consume: event: " in r.errtext and "retention" in r.errtext
        raw = run("consume", "t", *node_args(p), "--from", "0", check=0)
        assert b"retention" not in raw.out and "event:" in raw.errtext
        # From the earliest there is nothing to report.
        assert run("consume", "t", *node_args(p), check=0).err == b""


def test_config_file_names_the_node(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t")
        p.publish_batch("t", ["x", "y"])
        config = write_config(tmp_path / "node.conf", p)
        assert run("consume", "t", "--config", config, check=0).out == b"x\ny\n"


def curve_setup(tmp_path):
    for name in ("server", "client", "stranger"):
        run("keygen", tmp_path / f"{name}.key", check=0)
    server = (key_in(tmp_path / "server.key"), key_in(tmp_path / "server.key.secret"))
    return server, key_in(tmp_path / "client.key")


def test_curve_with_keygen_keys(cli, tmp_path, brook_py):
    server, client_public = curve_setup(tmp_path)
    with start_producer(brook_py, tmp_path / "j", keys=server,
                        allowed_client_keys=[client_public]) as p:
        p.create_topic("t", partitions=2)
        published = publish_numbered(p, "t", 40)
        secure = ["--server-key", tmp_path / "server.key", "--client-key", tmp_path / "client.key"]
        records = run("consume", "t", *node_args(p), *secure, "--json", check=0).json_lines()
        check_exactly_once(records, published)
        # The same through a config file: the server key comes from it.
        config = write_config(tmp_path / "node.conf", p, server_key=tmp_path / "server.key")
        r = run("consume", "t", "--config", config, "--client-key", tmp_path / "client.key",
                check=0)
        assert len(r.out.splitlines()) == 40
        # --config with CURVE and no client key is a usage error.
        assert "--client-key" in run("consume", "t", "--config", config, check=2).errtext

        # No keys, or a key the node does not allow: a clear error, not a hang.
        r = run("consume", "t", *node_args(p), "--timeout", "3s", check=1, timeout=30)
        assert "CURVE" in r.errtext and r.out == b""
        r = run("consume", "t", *node_args(p), "--server-key", tmp_path / "server.key",
                "--client-key", tmp_path / "stranger.key", "--timeout", "3s", check=1, timeout=30)
        assert "refused" in r.errtext and key_in(tmp_path / "stranger.key") in r.errtext
        assert r.out == b""
        # Pinning another server key: refused by the client itself.
        r = run("consume", "t", *node_args(p), "--server-key", tmp_path / "stranger.key",
                "--client-key", tmp_path / "client.key", "--timeout", "3s", check=1, timeout=30)
        assert "CURVE" in r.errtext and r.out == b""


def test_unreachable_node_fails_within_the_timeout(cli):
    started = time.monotonic()
    r = run("consume", "t", "--pub", "tcp://127.0.0.1:1", "--replay", "tcp://127.0.0.1:1",
            "--timeout", "1s", check=1, timeout=30)
    assert "no answer from tcp://127.0.0.1:1" in r.errtext
    assert "is the node running" in r.errtext
    assert time.monotonic() - started < 25


def test_unknown_topic_fails_naming_the_topics_there(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("orders")
        r = run("consume", "ordres", *node_args(p), check=1)
        assert "ordres" in r.errtext and "orders" in r.errtext


def test_a_closed_stdout_ends_quietly(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t")
        p.publish_batch("t", ["x" * 100] * 20_000)
        with running("consume", "t", *node_args(p), "--follow") as proc:
            assert proc.stdout.readline() == b"x" * 100 + b"\n"
            proc.stdout.close()  # as `| head -1` does
            assert proc.wait(timeout=20) == 0
            assert proc.stderr.read() == b""


def test_bad_arguments(cli, tmp_path):
    node = ["--pub", "tcp://127.0.0.1:1", "--replay", "tcp://127.0.0.1:1"]
    for args in ([], ["t"],
                 ["t", "--pub", "tcp://127.0.0.1:1"],
                 ["t", *node, "--replay", "tcp://127.0.0.1:2"],
                 ["t", *node, "--from", "yesterday"],
                 ["t", *node, "--from", "12x"],
                 ["t", *node, "--follow", "--exit-at-end"],
                 ["t", *node, "--follow", "--timeout", "1s"],
                 ["t", *node, "--count", "0"],
                 ["t", *node, "--count", "many"],
                 ["t", *node, "--timeout", "soon"],
                 ["t", *node, "--state-dir", tmp_path],
                 ["t", *node, "--server-key", tmp_path / "k"],
                 ["t", *node, "--bogus"]):
        r = run("consume", *args, check=2)
        assert "usage: brook consume" in r.errtext, args
    # A missing key file is not a usage error: the work failed.
    r = run("consume", "t", *node, "--server-key", tmp_path / "none",
            "--client-key", tmp_path / "none2", check=1)
    assert "none" in r.errtext


def test_help(cli):
    r = run("consume", "--help", check=0)
    for word in ("usage: brook consume", "--from", "--follow", "--count", "--name", "--json",
                 "--config", "--server-key", "event"):
        assert word in r.text, word
