"""brook describe: a running node's watermarks (table and JSON), a journal
directory, a named consumer's lag, and the errors."""
import time

from conftest import run, wait_for
from nodes import LineReader, key_in, node_args, running, start_producer, write_config


def make_node(brook_py, directory):
    """A producer with known watermarks: orders has 3 partitions holding 4, 0
    and 9 records, of which retention keeps the last 5 per partition; empty
    has none."""
    p = start_producer(brook_py, directory)
    p.create_topic("orders", partitions=3, max_records=5)
    p.create_topic("empty", partitions=2)
    for partition, n in ((0, 4), (2, 9)):
        for i in range(n):
            p.publish("orders", f"{partition}-{i}", partition=partition)
    p.enforce_retention()
    return p


EXPECTED_TOPICS = [
    {"name": "empty", "partition_count": 2, "records": 0, "partitions": [
        {"partition": 0, "low_watermark": 0, "high_watermark": 0, "records": 0},
        {"partition": 1, "low_watermark": 0, "high_watermark": 0, "records": 0}]},
    {"name": "orders", "partition_count": 3, "records": 9, "partitions": [
        {"partition": 0, "low_watermark": 0, "high_watermark": 4, "records": 4},
        {"partition": 1, "low_watermark": 0, "high_watermark": 0, "records": 0},
        {"partition": 2, "low_watermark": 4, "high_watermark": 9, "records": 5}]},
]


def test_describe_a_node_json(cli, tmp_path, brook_py):
    with make_node(brook_py, tmp_path / "j") as p:
        [node] = run("describe", *node_args(p), "--json", check=0).json_lines()
        assert node == {"endpoint": p.replay_endpoint, "producer": p.producer_id,
                        "epoch": p.epoch, "topics": EXPECTED_TOPICS}


def test_describe_a_node_table(cli, tmp_path, brook_py):
    with make_node(brook_py, tmp_path / "j") as p:
        r = run("describe", *node_args(p), check=0)
        lines = r.text.splitlines()
        assert p.producer_id in r.text and p.replay_endpoint in r.text
        header = next(i for i, l in enumerate(lines) if l.split()[:2] == ["TOPIC", "PARTITION"])
        rows = [l.split() for l in lines[header + 1:header + 6]]
        assert rows == [["empty", "0", "0", "0", "0"], ["empty", "1", "0", "0", "0"],
                        ["orders", "0", "0", "4", "4"], ["orders", "1", "0", "0", "0"],
                        ["orders", "2", "4", "9", "5"]]
        # Retention is only in the journal: the output says where to look.
        assert "--journal" in r.text


def test_describe_several_nodes_and_a_config_file(cli, tmp_path, brook_py):
    with make_node(brook_py, tmp_path / "a") as a, start_producer(brook_py, tmp_path / "b") as b:
        b.create_topic("other")
        b.publish("other", "x")
        config = write_config(tmp_path / "b.conf", b)
        first, second = run("describe", *node_args(a), "--config", config, "--json",
                            check=0).json_lines()
        assert first["producer"] == a.producer_id and first["topics"] == EXPECTED_TOPICS
        assert second["producer"] == b.producer_id
        assert second["topics"] == [{"name": "other", "partition_count": 1, "records": 1,
                                     "partitions": [{"partition": 0, "low_watermark": 0,
                                                     "high_watermark": 1, "records": 1}]}]


def test_describe_a_journal_directory(cli, tmp_path, brook_py):
    # Beside the running producer that has it open.
    with make_node(brook_py, tmp_path / "j") as p:
        [journal] = run("describe", "--journal", tmp_path / "j", "--json", check=0).json_lines()
        assert journal["producer"] == p.producer_id
        assert [t["name"] for t in journal["topics"]] == ["empty", "orders"]
        orders = journal["topics"][1]
        assert [(x["low_watermark"], x["high_watermark"]) for x in orders["partitions"]] == \
            [(0, 4), (0, 0), (4, 9)]
        assert orders["retention"]["max_records"] == 5
        text = run("describe", "--journal", tmp_path / "j", check=0).text
        assert p.producer_id in text
    run("describe", "--journal", tmp_path / "nowhere", check=1)


def test_lag_of_a_named_consumer(cli, tmp_path, brook_py):
    state = tmp_path / "state"
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("orders", partitions=2)
        p.create_topic("unfollowed")
        p.publish("unfollowed", "x")
        for partition in (0, 1):
            for i in range(10):
                p.publish("orders", f"{i}", partition=partition)
        consume = ["consume", "orders", *node_args(p), "--name", "billing", "--state-dir", state]
        run(*consume, check=0)
        for i in range(3):
            p.publish("orders", f"late{i}", partition=1)
        lag = ["describe", *node_args(p), "--name", "billing", "--state-dir", state]
        [obj] = run(*lag, "--json", check=0).json_lines()
        stream = {"endpoint": p.replay_endpoint, "producer": p.producer_id, "topic": "orders"}
        assert obj == {"name": "billing", "state_dir": str(state), "lag": 3, "streams": [
            dict(stream, partition=0, high_watermark=10, next=10, lag=0),
            dict(stream, partition=1, high_watermark=13, next=10, lag=3)]}
        rows = [l.split() for l in run(*lag, check=0).text.splitlines()
                if l.startswith(p.replay_endpoint)]
        assert rows == [[p.replay_endpoint, "orders", "0", "10", "10", "0"],
                        [p.replay_endpoint, "orders", "1", "10", "13", "3"]]

        # While the consumer runs (it has the state open), describe reads
        # beside it and the consumer goes on undisturbed.
        with running(*consume, "--follow") as proc:
            reader = LineReader(proc.stdout)
            wait_for(lambda: reader.count() >= 3, what="the 3 late records")
            p.publish("orders", "later", partition=0)
            wait_for(lambda: reader.count() >= 4, what="a record published after the start")

            def caught_up():
                [o] = run(*lag, "--json", check=0).json_lines()
                return o["lag"] == 0 and [s["next"] for s in o["streams"]] == [11, 13]
            wait_for(caught_up, what="describe to see the running consumer's positions")
            p.publish("orders", "last", partition=1)
            wait_for(lambda: reader.count() >= 5, what="a record after describe read the store")
            proc.terminate()
            assert proc.wait(timeout=20) == 0
        assert reader.join() == [b"late0\n", b"late1\n", b"late2\n", b"later\n", b"last\n"]


def test_lag_errors(cli, tmp_path, brook_py):
    state = tmp_path / "state"
    with start_producer(brook_py, tmp_path / "j") as p:
        p.create_topic("t")
        p.publish("t", "x")
        r = run("describe", *node_args(p), "--name", "ghost", "--state-dir", state, check=1)
        assert "no consumer state" in r.errtext and str(state) in r.errtext
        assert not state.exists()  # describe never creates a store
        run("consume", "t", *node_args(p), "--name", "real", "--state-dir", state, check=0)
        r = run("describe", *node_args(p), "--name", "ghost", "--state-dir", state, check=1)
        assert "'ghost'" in r.errtext and "--name" in r.errtext


def test_unreachable_node_fails_within_the_timeout(cli):
    started = time.monotonic()
    r = run("describe", "--pub", "tcp://127.0.0.1:1", "--replay", "tcp://127.0.0.1:1",
            "--timeout", "500ms", check=1, timeout=30)
    assert "no answer from tcp://127.0.0.1:1" in r.errtext
    assert "is the node running" in r.errtext and "CURVE" in r.errtext
    assert time.monotonic() - started < 25


def test_curve_node(cli, tmp_path, brook_py):
    for name in ("server", "client"):
        run("keygen", tmp_path / f"{name}.key", check=0)
    server = (key_in(tmp_path / "server.key"), key_in(tmp_path / "server.key.secret"))
    with start_producer(brook_py, tmp_path / "j", keys=server,
                        allowed_client_keys=[key_in(tmp_path / "client.key")]) as p:
        p.create_topic("t")
        [node] = run("describe", *node_args(p), "--server-key", tmp_path / "server.key",
                     "--client-key", tmp_path / "client.key", "--json", check=0).json_lines()
        assert node["producer"] == p.producer_id
        r = run("describe", *node_args(p), "--timeout", "3s", check=1, timeout=30)
        assert "CURVE" in r.errtext


def test_bad_arguments(cli, tmp_path):
    node = ["--pub", "tcp://127.0.0.1:1", "--replay", "tcp://127.0.0.1:1"]
    for args in ([], ["--json"], ["--pub", "tcp://127.0.0.1:1"],
                 ["--journal", tmp_path, *node],
                 ["--journal", tmp_path, "--name", "x"],
                 [*node, "--state-dir", tmp_path],
                 [*node, "--timeout", "never"],
                 [*node, "extra"],
                 [*node, "--bogus"]):
        r = run("describe", *args, check=2)
        assert "usage: brook describe" in r.errtext, args


def test_help(cli):
    r = run("describe", "--help", check=0)
    for word in ("usage: brook describe", "--journal", "--name", "--state-dir", "--json",
                 "--config", "--server-key", "retention"):
        assert word in r.text, word
