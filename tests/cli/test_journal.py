"""`brook journal` (stats, dump, verify, copy) and `brook describe --journal`
against real journals written through the Python bindings, closed and open."""
import base64
import contextlib
import json
import os
import threading

import pytest

from conftest import run

BINARY = b"\x00\x01\xff\xfe binary\n"


def make_journal(brook_py, path):
    """orders: 3 partitions, 12 keyed records with headers, one binary record
    in partition 0; audit: 1 partition with a retention policy, 5 records;
    idle: empty."""
    p = brook_py.Producer(str(path))
    p.create_topic("orders", 3)
    p.create_topic("audit", 1, max_age=3600, max_records=1000)
    p.create_topic("idle", 1)
    placed = []
    for i in range(12):
        placed.append(p.publish("orders", b"order-%d" % i, key="customer-%d" % (i % 4),
                                headers={"type": "order-placed", "n": str(i)}))
    placed.append(p.publish("orders", BINARY, partition=0))
    for i in range(5):
        p.publish("audit", b"audit-%d" % i)
    producer = p.producer_id
    p.close()
    counts = {0: 0, 1: 0, 2: 0}
    for partition, _ in placed:
        counts[partition] += 1
    return producer, counts


@pytest.fixture
def journal(tmp_path, brook_py, cli):
    path = tmp_path / "journal"
    producer, counts = make_journal(brook_py, path)
    return path, producer, counts


def run_stats(command, *args, check=0):
    """`brook journal stats` or `brook describe --journal`, whose journal
    output this same inspector gives (cmd_describe.cc calls it)."""
    r = run(*command, *args)
    if command[0] == "describe" and "not written yet" in r.errtext:
        pytest.xfail("`brook describe` is still a placeholder")
    assert r.code == check, r
    return r


def partitions_by_topic(stats):
    return {t["name"]: t for t in stats["topics"]}


# ----- stats and describe


@pytest.mark.parametrize("command", [("journal", "stats"), ("describe", "--journal")])
def test_stats_json_values(journal, command):
    path, producer, counts = journal
    r = run_stats(command, path, "--json")
    stats = json.loads(r.text)
    assert stats["producer"] == producer
    assert stats["epoch"] == 1
    assert stats["format_version"] == 1
    assert stats["clean_close"] is True
    assert stats["file_bytes"] > 0 and stats["map_bytes"] >= stats["used_bytes"] > 0
    topics = partitions_by_topic(stats)
    assert sorted(topics) == ["audit", "idle", "orders"]
    orders = topics["orders"]
    assert orders["partition_count"] == 3
    assert orders["records"] == 13
    assert orders["retention"] == {"max_age_ms": 0, "max_bytes": 0, "max_records": 0}
    for part in orders["partitions"]:
        n = counts[part["partition"]]
        assert part["low_watermark"] == 0
        assert part["high_watermark"] == n
        assert part["records"] == n
        if n:
            assert part["bytes"] > 0
            assert part["first_timestamp_ns"] <= part["last_timestamp_ns"]
    assert sum(p["bytes"] for p in orders["partitions"]) == orders["bytes"]
    audit = topics["audit"]
    assert audit["retention"] == {"max_age_ms": 3600000, "max_bytes": 0, "max_records": 1000}
    assert audit["partitions"][0]["high_watermark"] == 5
    idle = topics["idle"]["partitions"][0]
    assert (idle["low_watermark"], idle["high_watermark"], idle["records"]) == (0, 0, 0)
    assert idle["first_timestamp_ns"] is None and idle["last_timestamp"] is None


@pytest.mark.parametrize("command", [("journal", "stats"), ("describe", "--journal")])
def test_stats_table(journal, command):
    path, producer, counts = journal
    r = run_stats(command, path)
    text = r.text
    assert producer in text
    assert "epoch        1" in text
    assert "clean close  yes" in text
    assert "age 1h, 1000 records/partition" in text
    rows = [line.split() for line in text.splitlines()]
    # The partitions table: TOPIC PARTITION LOW HIGH RECORDS ...
    for partition, n in counts.items():
        assert ["orders", str(partition), "0", str(n), str(n)] in [row[:5] for row in rows]
    assert ["audit", "0", "0", "5", "5"] in [row[:5] for row in rows]
    assert ["idle", "0", "0", "0", "0", "0", "B", "-", "-"] in rows


# ----- dump


def test_dump_json_fields(journal):
    path, producer, counts = journal
    r = run("journal", "dump", path, "--topic", "orders", "--json", check=0)
    records = r.json_lines()
    assert len(records) == 13
    for rec in records:
        content = ["payload"] if "payload" in rec else ["payload_base64"]
        assert list(rec) == ["producer", "topic", "partition", "offset", "timestamp_ns",
                             "timestamp", "key", "headers"] + content
        assert rec["producer"] == producer and rec["topic"] == "orders"
    # Partitions in turn, offsets in order within each.
    order = [(rec["partition"], rec["offset"]) for rec in records]
    assert order == sorted(order)
    keyed = [rec for rec in records if rec["key"] is not None]
    assert sorted(int(rec["payload"].split("-")[1]) for rec in keyed) == list(range(12))
    for rec in keyed:
        n = int(rec["payload"].split("-")[1])
        assert rec["key"] == "customer-%d" % (n % 4)
        assert rec["headers"] == {"type": "order-placed", "n": str(n)}
    binary = [rec for rec in records if rec["key"] is None]
    assert len(binary) == 1
    assert binary[0]["partition"] == 0 and binary[0]["offset"] == counts[0] - 1
    assert binary[0]["headers"] == {}
    # Bytes that are not UTF-8 come out base64, as `brook consume --json` and
    # `brook produce --json` have them.
    assert "payload" not in binary[0]
    assert base64.b64decode(binary[0]["payload_base64"]) == BINARY
    assert binary[0]["timestamp"].endswith("Z")


def test_dump_text_lines(journal):
    path, _, counts = journal
    r = run("journal", "dump", path, "--topic", "orders", "--partition", "0", check=0)
    lines = r.text.splitlines()
    assert len(lines) == counts[0]
    assert lines[0].startswith("orders/0@0 ")
    assert 'key="customer-' in lines[0] and '"type":"order-placed"' in lines[0]
    assert lines[-1].endswith("key=null \\x00\\x01\\xff\\xfe binary\\x0a")


def test_dump_ranges(journal):
    path, _, counts = journal

    def offsets(*extra):
        r = run("journal", "dump", path, "--topic", "audit", "--json", *extra, check=0)
        return [rec["offset"] for rec in r.json_lines()]

    assert offsets() == [0, 1, 2, 3, 4]
    assert offsets("--from", "2") == [2, 3, 4]
    assert offsets("--to", "2") == [0, 1]
    assert offsets("--from", "1", "--to", "4") == [1, 2, 3]
    assert offsets("--from", "1", "--count", "2") == [1, 2]
    assert offsets("--from", "9") == []
    assert offsets("--count", "0") == []
    r = run("journal", "dump", path, "--topic", "orders", "--json", "--count", "4", check=0)
    assert len(r.json_lines()) == 4
    r = run("journal", "dump", path, "--topic", "orders", "--partition", "2", "--json", check=0)
    assert [rec["offset"] for rec in r.json_lines()] == list(range(counts[2]))
    assert {rec["partition"] for rec in r.json_lines()} == {2}


def test_dump_unknown_topic_and_partition(journal):
    path, _, _ = journal
    r = run("journal", "dump", path, "--topic", "nope", check=1)
    assert "topic 'nope' does not exist" in r.errtext and "orders" in r.errtext
    r = run("journal", "dump", path, "--topic", "orders", "--partition", "3", check=1)
    assert "no partition 3" in r.errtext


# ----- verify


def test_verify_good_journal(journal):
    path, _, _ = journal
    r = run("journal", "verify", path, check=0)
    assert "verified 18 record(s)" in r.text and "no damage found" in r.text
    r = run("journal", "verify", path, "--json", check=0)
    summary = json.loads(r.text)
    assert summary["ok"] is True and summary["problem_count"] == 0
    assert summary["records"] == 18 and summary["partitions"] == 5
    assert summary["interrupted"] is False


def flip_marker(data_file, marker):
    """Flips one byte inside every stored copy of `marker` (LMDB may keep
    stale copies of a page in free space; the live one is among them)."""
    raw = bytearray(data_file.read_bytes())
    found = 0
    at = raw.find(marker)
    while at != -1 and found < 100:
        raw[at + len(marker) // 2] ^= 0x20
        found += 1
        at = raw.find(marker, at + 1)
    assert found >= 1, "the marker is not in data.mdb"
    data_file.write_bytes(bytes(raw))


def test_verify_damaged_record(tmp_path, brook_py, cli):
    path = tmp_path / "journal"
    p = brook_py.Producer(str(path))
    p.create_topic("events", 1)
    for i in range(10):
        p.publish("events", b"ordinary-%d" % i)
    marker = b"MARKER-7f3a9c-DAMAGE-ME"
    _, damaged_offset = p.publish("events", b"before " + marker + b" after")
    for i in range(5):
        p.publish("events", b"later-%d" % i)
    p.close()
    flip_marker(path / "data.mdb", marker)

    r = run("journal", "verify", path, check=1)
    assert f"events/0 offset {damaged_offset}" in r.text
    assert f"events/0 offset {damaged_offset}" in r.errtext
    assert "checksum" in r.text.lower() or "crc" in r.text.lower()
    r = run("journal", "verify", path, "--json", check=1)
    summary = json.loads(r.text)
    assert summary["ok"] is False
    assert [(q["topic"], q["partition"], q["offset"]) for q in summary["problems"]] == [
        ("events", 0, damaged_offset)]
    assert summary["records"] == 16

    # dump skips it, says so, and serves the records after it.
    r = run("journal", "dump", path, "--topic", "events", "--json", check=1)
    offsets = [rec["offset"] for rec in r.json_lines()]
    assert offsets == [o for o in range(16) if o != damaged_offset]
    assert f"offset {damaged_offset} is damaged" in r.errtext


@contextlib.contextmanager
def writing(step, rounds=2000):
    """Runs step(0), step(1), ... on a thread (at most `rounds`) while the
    body runs, so the CLI meets a journal being written to."""
    stop = threading.Event()

    def loop():
        for i in range(rounds):
            if stop.is_set():
                return
            step(i)

    t = threading.Thread(target=loop)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=60)
    assert not t.is_alive()


def verify_json(path):
    return json.loads(run("journal", "verify", path, "--json", check=0).text)


def test_stats_and_verify_while_producer_open(tmp_path, brook_py, cli):
    path = tmp_path / "journal"
    p = brook_py.Producer(str(path))
    try:
        p.create_topic("live", 2)
        for i in range(200):
            p.publish("live", b"live-%d" % i, key="k%d" % i)
        stats = json.loads(run("journal", "stats", path, "--json", check=0).text)
        assert stats["clean_close"] is False
        assert stats["epoch"] == p.epoch
        live = partitions_by_topic(stats)["live"]
        assert live["records"] == 200
        assert sum(x["high_watermark"] for x in live["partitions"]) == 200
        run("journal", "verify", path, check=0)

        # Appends while verify and dump run are not reported as damage.
        with writing(lambda i: p.publish_batch("live", [b"more-%d" % i] * 5)):
            for _ in range(3):
                assert verify_json(path)["ok"] is True
                run("journal", "dump", path, "--topic", "live", "--json", check=0)
    finally:
        p.close()
    run("journal", "verify", path, check=0)


def test_retention_moves_low_watermark_during_verify(tmp_path, brook_py, cli):
    path = tmp_path / "journal"
    with brook_py.Producer(str(path)) as p:
        p.create_topic("capped", 1, max_records=100)
        p.publish_batch("capped", [b"c-%d" % i for i in range(500)])
        p.enforce_retention()
        stats = json.loads(run("journal", "stats", path, "--json", check=0).text)
        part = partitions_by_topic(stats)["capped"]["partitions"][0]
        assert (part["low_watermark"], part["high_watermark"], part["records"]) == (400, 500, 100)
        r = run("journal", "dump", path, "--topic", "capped", "--partition", "0", "--from", "0",
                "--json", check=0)
        assert [rec["offset"] for rec in r.json_lines()] == list(range(400, 500))
        assert "removed by retention" in r.errtext

        # Records removed from the front while verify runs are not a gap.
        def churn(i):
            p.publish_batch("capped", [b"more-%d" % i] * 50)
            p.enforce_retention()

        with writing(churn):
            for _ in range(3):
                assert verify_json(path)["ok"] is True


# ----- copy


def dump_all(path, topic):
    r = run("journal", "dump", path, "--topic", topic, "--json", check=0)
    return [(rec["partition"], rec["offset"], rec.get("key"), rec.get("key_base64"),
             rec.get("payload"), rec.get("payload_base64"), rec["headers"])
            for rec in r.json_lines()]


@pytest.mark.parametrize("compact", [False, True])
def test_copy(journal, tmp_path, compact):
    path, producer, _ = journal
    dest = tmp_path / "copies" / "one"
    args = ["journal", "copy", path, dest, "--json"] + (["--compact"] if compact else [])
    r = run(*args, check=0)
    sizes = json.loads(r.text)
    assert sizes["compact"] is compact
    assert sizes["source_bytes"] > 0 and sizes["destination_bytes"] > 0
    assert sizes["destination_bytes"] == os.path.getsize(dest / "data.mdb")
    run("journal", "verify", dest, check=0)
    for topic in ("orders", "audit"):
        assert dump_all(dest, topic) == dump_all(path, topic)
    copied = json.loads(run("journal", "stats", dest, "--json", check=0).text)
    assert copied["producer"] == producer
    # DEST holding a journal now, the same copy is refused.
    r = run("journal", "copy", path, dest, check=1)
    assert "already holds a journal" in r.errtext


def test_copy_text_and_refusals(journal, tmp_path, brook_py):
    path, _, _ = journal
    dest = tmp_path / "plain"
    r = run("journal", "copy", path, dest, check=0)
    assert r.text.startswith(f"copied {path} (") and str(dest) in r.text
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("x")
    r = run("journal", "copy", path, busy, check=1)
    assert "is not empty" in r.errtext
    assert sorted(os.listdir(busy)) == ["notes.txt"]


def test_copy_while_producer_open(tmp_path, brook_py, cli):
    path = tmp_path / "journal"
    with brook_py.Producer(str(path)) as p:
        p.create_topic("t", 1)
        for i in range(50):
            p.publish("t", b"r-%d" % i)
        run("journal", "copy", path, tmp_path / "copy", "--compact", check=0)
    run("journal", "verify", tmp_path / "copy", check=0)
    assert len(dump_all(tmp_path / "copy", "t")) == 50
    # The copy is a journal brook itself opens.
    with brook_py.Producer(str(tmp_path / "copy")) as again:
        assert again.publish("t", b"next") == (0, 50)


# ----- errors and help


def test_missing_and_non_journal_directories(tmp_path, cli):
    for sub in ("stats", "verify"):
        r = run("journal", sub, tmp_path / "missing", check=1)
        assert f"no brook journal in {tmp_path / 'missing'}" in r.errtext
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("journal", "dump", empty, "--topic", "x", check=1)
    assert f"no brook journal in {empty}" in r.errtext
    assert os.listdir(empty) == []  # nothing was created in it
    r = run_stats(("describe", "--journal"), tmp_path / "missing", check=1)
    assert f"no brook journal in {tmp_path / 'missing'}" in r.errtext


def test_newer_format_version_refused(journal, cli):
    path, _, _ = journal
    # Rewrite brook.meta's format_version to 2 with LMDB's own loader.
    import shutil
    import subprocess
    if not shutil.which("mdb_load"):
        pytest.fail("mdb_load (lmdb-utils) is needed")
    text = ("VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n"
            " " + b"format_version".hex() + "\n 00000002\nDATA=END\n")
    subprocess.run(["mdb_load", "-s", "brook.meta", str(path)], input=text.encode(),
                   check=True, timeout=30)
    for args in (("journal", "stats", path), ("journal", "verify", path),
                 ("journal", "dump", path, "--topic", "orders")):
        r = run(*args, check=1)
        assert "format version 2, newer than this brook understands (1)" in r.errtext


@pytest.mark.parametrize("args", [
    ("journal",),
    ("journal", "nope"),
    ("journal", "stats"),
    ("journal", "stats", "a", "b"),
    ("journal", "stats", "DIR", "--bogus"),
    ("journal", "dump", "DIR"),  # --topic missing
    ("journal", "dump", "DIR", "--topic", "t", "--from", "x"),
    ("journal", "dump", "DIR", "--topic", "t", "--from", "5", "--to", "2"),
    ("journal", "dump", "DIR", "--topic", "t", "--count", "-1"),
    ("journal", "copy", "DIR"),
    ("journal", "verify", "DIR", "--json=yes"),
])
def test_bad_arguments_exit_2(args, cli):
    r = run(*args, check=2)
    assert r.errtext.strip()


@pytest.mark.parametrize("args", [
    ("journal", "--help"),
    ("journal", "stats", "--help"),
    ("journal", "dump", "--help"),
    ("journal", "verify", "--help"),
    ("journal", "copy", "--help"),
])
def test_help_exit_0(args, cli):
    r = run(*args, check=0)
    assert "usage: brook journal" in r.text
