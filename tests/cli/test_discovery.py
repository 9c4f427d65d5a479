"""Discovery from the command line: a `brook node` with [discovery] announces
itself in UDP beacons, `brook consume --discover` finds and follows it with no
endpoints given (every record once, in order), `brook describe --discover`
lists what the beacons say, and the config and option errors name what is
wrong. Everything on loopback: beacons to 127.255.255.255 on a free port,
sent from 127.0.0.1, heard by listeners bound to 127.255.255.255; nodes on
127.0.0.1."""
import json
import signal
import time

import pytest

from conftest import run, spawn, wait_for
from nodes import LineReader, free_udp_port, key_in
from test_produce_node import Node

LOOPBACK = "127.255.255.255"


def discovery_section(port, cluster="shop", interval="50ms", extra=""):
    return (f"[discovery]\ncluster = {cluster}\naddress = {LOOPBACK}\n"
            f"bind_address = {LOOPBACK}\ninterface_address = 127.0.0.1\n"
            f"port = {port}\ninterval = {interval}\nsilence_timeout = 1s\n{extra}")


def node_config(directory, port, cluster="shop", topics="[topic orders]\npartitions = 3\n",
                security="", name="node.conf"):
    """A node config on 127.0.0.1 with ports chosen at bind time and an
    ingest socket, announcing itself in `cluster` on `port`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("journal = journal\ndurability = nosync\n"
                    "pub = tcp://127.0.0.1:0\nreplay = tcp://127.0.0.1:0\n"
                    "ingest = ipc://ingest.sock\nheartbeat_interval = 50ms\n"
                    + security + discovery_section(port, cluster) + topics)
    return str(path)


def discover_args(port, cluster="shop"):
    """The client options that listen where node_config's nodes announce."""
    return ["--discover", cluster, "--discovery-address", LOOPBACK, "--discovery-port", port,
            "--discovery-interface", "127.0.0.1"]


@pytest.fixture
def nodes():
    started = []

    def start(config, extra=()):
        n = Node(config, extra)
        started.append(n)
        return n

    yield start
    for n in started:
        n.kill()


def produce_numbered(config, n, start=0):
    """Publishes "r<i>" keyed "k<i % 7>" through the node's ingest endpoint."""
    lines = "".join(f"k{i % 7}:r{i}\n" for i in range(start, start + n))
    run("produce", "--config", config, "orders", "--key-separator", ":", input=lines, check=0)


def check_once_in_order(records, producer, count, start=0):
    """The records of `producer`: every "r<i>" once, offsets dense from 0 and
    in order per partition."""
    mine = [r for r in records if r["producer"] == producer]
    per_partition = {}
    for r in mine:
        per_partition.setdefault(r["partition"], []).append(r["offset"])
    for partition, offsets in per_partition.items():
        assert offsets == list(range(len(offsets))), partition
    assert sorted(r["payload"] for r in mine) == sorted(f"r{i}" for i in range(start,
                                                                               start + count))


def test_node_announces_itself_and_counts_beacon_rounds(cli, tmp_path, nodes):
    port = free_udp_port()
    n = nodes(node_config(tmp_path, port), extra=("--stats-interval", "200ms"))
    assert n.ready["discovery"] == {"cluster": "shop", "address": LOOPBACK, "port": port,
                                    "interval_ms": 50}
    time.sleep(0.5)
    assert n.stop() == 0
    assert n.summary["beacon_rounds"] >= 3 and n.summary["beacon_errors"] == 0
    # --stats-interval lines carry the beacon rounds too.
    assert "beacons " in n.stderr and "0 failed" in n.stderr

    # The text ready line says the cluster and where the beacons go.
    plain = spawn("node", node_config(tmp_path / "text", port))
    try:
        line = plain.stdout.readline().decode()
        assert f"discovery cluster shop on {LOOPBACK}:{port}" in line, line
        plain.send_signal(signal.SIGTERM)
        out, _ = plain.communicate(timeout=30)
        assert plain.returncode == 0
        assert "beacons " in out.decode() and "rounds (0 failed)" in out.decode()
    finally:
        if plain.poll() is None:
            plain.kill()
            plain.wait(timeout=10)


def test_node_without_discovery_says_so(cli, tmp_path, nodes):
    (tmp_path / "plain.conf").write_text("journal = journal\ndurability = nosync\n"
                                         "pub = tcp://127.0.0.1:0\nreplay = tcp://127.0.0.1:0\n")
    n = nodes(str(tmp_path / "plain.conf"))
    assert n.ready["discovery"] is None
    assert n.stop() == 0
    assert n.summary["beacon_rounds"] == 0


def test_consume_discover_gets_every_record_once_in_order(cli, tmp_path, nodes):
    port = free_udp_port()
    config = node_config(tmp_path / "a", port)
    n = nodes(config)
    produce_numbered(config, 500)
    # No endpoint given: the node is found by its beacons; the run stops at
    # the end the node had when it was heard.
    r = run("consume", "orders", *discover_args(port), "--json", check=0)
    records = r.json_lines()
    assert len(records) == 500
    check_once_in_order(records, n.ready["producer"], 500)
    raw = run("consume", "orders", *discover_args(port), check=0)
    assert sorted(raw.out.splitlines()) == sorted(f"r{i}".encode() for i in range(500))
    # The node's own config file, whose endpoints have no fixed port: its
    # [discovery] settings find it.
    r = run("consume", "orders", "--config", config, "--json", check=0)
    check_once_in_order(r.json_lines(), n.ready["producer"], 500)
    assert len(r.json_lines()) == 500


def test_consume_discover_ignores_other_clusters(cli, tmp_path, nodes):
    port = free_udp_port()
    shop = node_config(tmp_path / "shop", port)
    other = node_config(tmp_path / "other", port, cluster="warehouse")
    a, b = nodes(shop), nodes(other)
    produce_numbered(shop, 40)
    produce_numbered(other, 30)
    records = run("consume", "orders", *discover_args(port), "--json", check=0).json_lines()
    assert {r["producer"] for r in records} == {a.ready["producer"]}
    check_once_in_order(records, a.ready["producer"], 40)
    assert b.ready["producer"] != a.ready["producer"]


def test_consume_discover_follow_finds_nodes_that_start_later(cli, tmp_path, nodes):
    """--follow with nothing running yet: both nodes are found as they
    start, and each one's records arrive once, in order."""
    port = free_udp_port()
    config_a = node_config(tmp_path / "a", port)
    config_b = node_config(tmp_path / "b", port)
    proc = spawn("consume", "orders", *discover_args(port), "--follow", "--count", 300,
                 "--json")
    try:
        out = LineReader(proc.stdout)
        a = nodes(config_a)
        produce_numbered(config_a, 100)
        wait_for(lambda: out.count() >= 100, timeout=30, what="node a's records")
        b = nodes(config_b)
        produce_numbered(config_b, 150)
        produce_numbered(config_a, 50, start=100)
        assert proc.wait(timeout=60) == 0
        records = [json.loads(line) for line in out.join()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert len(records) == 300
    check_once_in_order(records, a.ready["producer"], 150)
    check_once_in_order(records, b.ready["producer"], 150)


def test_consume_discover_nothing_heard_fails_clearly(cli, tmp_path, nodes):
    port = free_udp_port()
    nodes(node_config(tmp_path, port, cluster="warehouse"))
    started = time.monotonic()
    r = run("consume", "orders", *discover_args(port), check=1)
    assert time.monotonic() - started < 20
    assert "no producer of cluster 'shop'" in r.errtext
    assert f"{LOOPBACK}:{port}" in r.errtext
    assert "beacons of other clusters" in r.errtext


def test_describe_discover_lists_the_nodes_heard(cli, tmp_path, nodes):
    port = free_udp_port()
    config_a = node_config(tmp_path / "a", port)
    config_b = node_config(tmp_path / "b", port, topics="[topic other]\npartitions = 1\n")
    a, b = nodes(config_a), nodes(config_b)
    run("produce", "--config", config_a, "orders", "--partition", "2", input="x\ny\nz\n",
        check=0)
    time.sleep(0.2)  # a few beacon rounds: they carry the new watermarks
    described = run("describe", *discover_args(port), "--json", check=0).json_lines()
    by_producer = {d["producer"]: d for d in described}
    assert set(by_producer) == {a.ready["producer"], b.ready["producer"]}
    da = by_producer[a.ready["producer"]]
    assert da["discovered"] is True and da["cluster"] == "shop"
    assert da["endpoint"] == a.ready["replay"] and da["pub"] == a.ready["pub"]
    assert da["epoch"] == a.ready["epoch"] and da["source_address"] == "127.0.0.1"
    assert da["server_public_key"] is None
    assert da["topics"] == [{"name": "orders", "partition_count": 3, "records": 3, "partitions": [
        {"partition": 0, "low_watermark": 0, "high_watermark": 0, "records": 0},
        {"partition": 1, "low_watermark": 0, "high_watermark": 0, "records": 0},
        {"partition": 2, "low_watermark": 0, "high_watermark": 3, "records": 3}]}]
    assert [t["name"] for t in by_producer[b.ready["producer"]]["topics"]] == ["other"]

    text = run("describe", *discover_args(port), check=0).text
    for word in (a.ready["producer"], b.ready["producer"], a.ready["pub"], a.ready["replay"],
                 "from 127.0.0.1 in cluster shop", "(none: no CURVE)"):
        assert word in text, word
    rows = [line.split() for line in text.splitlines() if line.startswith("orders ")]
    assert rows == [["orders", "0", "0", "0", "0"], ["orders", "1", "0", "0", "0"],
                    ["orders", "2", "0", "3", "3"]]

    # Through the node's config file: the same node, found by its [discovery].
    [d] = [x for x in run("describe", "--config", config_a, "--json", check=0).json_lines()
           if x["producer"] == a.ready["producer"]]
    assert d["endpoint"] == a.ready["replay"]


def test_describe_discover_waits_at_most_the_timeout(cli, tmp_path):
    port = free_udp_port()
    started = time.monotonic()
    r = run("describe", *discover_args(port), "--timeout", "300ms", check=1)
    assert time.monotonic() - started < 10
    assert "no producer of cluster 'shop'" in r.errtext and "300" in r.errtext


def test_discovery_under_curve_believes_only_listed_keys(cli, tmp_path, nodes):
    for name in ("node", "client", "stranger"):
        run("keygen", tmp_path / f"{name}.key", check=0)
    (tmp_path / "clients.keys").write_text(key_in(tmp_path / "client.key") + "\n")
    port = free_udp_port()
    security = (f"[security]\nserver_key = {tmp_path}/node.key\n"
                f"allowed_client_keys = {tmp_path}/clients.keys\n")
    config = node_config(tmp_path / "n", port, security=security)
    n = nodes(config)
    assert n.ready["curve"] is True
    produce_numbered(config, 60)
    client = ["--client-key", tmp_path / "client.key"]
    r = run("consume", "orders", *discover_args(port), *client, "--discovery-key",
            tmp_path / "node.key", "--json", check=0)
    check_once_in_order(r.json_lines(), n.ready["producer"], 60)
    assert len(r.json_lines()) == 60
    # Another key listed: the node's beacons are not believed.
    r = run("consume", "orders", *discover_args(port), *client, "--discovery-key",
            tmp_path / "stranger.key", check=1)
    assert "key not given by --discovery-key" in r.errtext and r.out == b""
    # No key at all: a usage error, before anything is heard.
    r = run("consume", "orders", *discover_args(port), *client, check=2)
    assert "--discovery-key" in r.errtext
    # describe shows the announced key; --discovery-key filters.
    [d] = run("describe", *discover_args(port), "--json", check=0).json_lines()
    assert d["server_public_key"] == key_in(tmp_path / "node.key")
    run("describe", *discover_args(port), "--discovery-key", tmp_path / "stranger.key",
        "--timeout", "1s", check=1)


def config_error(tmp_path, body):
    bad = tmp_path / "bad.conf"
    bad.write_text("journal = j\npub = tcp://127.0.0.1:0\nreplay = tcp://127.0.0.1:0\n" + body)
    r = run("node", bad, check=1)
    return r.errtext, str(bad)


@pytest.mark.parametrize("body, line, words", [
    ("[discovery]\ncluster = shop\nspeed = 3\n", 6, ["unknown setting 'speed' in [discovery]"]),
    ("[discovery]\ncluster = shop\nport = 70000\n", 6, ["port must be", "70000"]),
    ("[discovery]\ncluster = shop\nport = 0\n", 6, ["port must be"]),
    ("[discovery]\ncluster = shop\ninterval = soon\n", 6, ["interval"]),
    ("[discovery]\ncluster = shop\nmulticast_ttl = 300\n", 6, ["multicast_ttl"]),
    ("[discovery]\ncluster = sh op\n", 5, ["cluster must be", "sh op"]),
    ("[discovery]\ncluster = shop\naddress = localhost\n", 6, ["address must be"]),
    ("[discovery]\ncluster = shop\ncluster = shop\n", 6, ["cluster is set twice"]),
    ("[discovery]\nport = 7099\n", 4, ["[discovery] needs 'cluster = NAME'"]),
    ("[discovery]\ncluster = shop\naddress = 10.1.2.3\n", 4, ["[discovery].address", "10.1.2.3"]),
    ("[discovery]\ncluster = shop\ninterval = 6s\n", 4, ["[discovery].silence_timeout"]),
    (f"[discovery]\ncluster = shop\naddress = {LOOPBACK}\nbind_address = 127.0.0.1\n", 4,
     ["[discovery].bind_address", "127.0.0.1"]),
    ("[discovery]\ncluster = a\n[discovery]\ncluster = b\n", 6, ["[discovery] appears twice"]),
])
def test_node_config_discovery_errors(cli, tmp_path, body, line, words):
    err, path = config_error(tmp_path, body)
    assert f"{path}:{line}:" in err, err
    for word in words:
        assert word in err, (word, err)


def test_discovery_option_errors(cli, tmp_path):
    d = discover_args(free_udp_port())
    named = ["--pub", "tcp://127.0.0.1:1", "--replay", "tcp://127.0.0.1:1"]
    run("keygen", tmp_path / "k", check=0)
    for command, args in (
            ("consume", ["orders", *named, "--discovery-port", "7099"]),
            ("describe", [*named, "--discovery-address", LOOPBACK]),
            ("describe", [*named, "--discovery-key", tmp_path / "k"]),
            ("consume", ["orders", "--discover", "sh op"]),
            ("consume", ["orders", "--discover", "shop", "--discovery-port", "0"]),
            ("consume", ["orders", "--discover", "shop", "--discovery-port", "70000"]),
            ("describe", ["--discover", "shop", "--discovery-address", "10.1.2.3"]),
            ("describe", ["--discover", "shop", "--discovery-address", LOOPBACK,
                          "--discovery-interface", "10.1.2.3"]),
            ("consume", ["orders", *d, "--discovery-key", tmp_path / "k"]),
            ("describe", ["--discover", "shop", "--server-key", tmp_path / "k"])):
        r = run(command, *args, check=2)
        assert f"usage: brook {command}" in r.errtext, args
    r = run("consume", "orders", "--discover", "shop", "--discovery-address", "10.1.2.3",
            check=2)
    assert "discovery.address" in r.errtext and "10.1.2.3" in r.errtext
    r = run("consume", "orders", "--discover", "shop", "--discovery-port", "0", check=2)
    assert "--discovery-port must be" in r.errtext
    # A key file that cannot be read: the work failed, named.
    r = run("describe", *d, "--discovery-key", tmp_path / "missing.key", check=1)
    assert "missing.key" in r.errtext


def test_help_mentions_discovery(cli):
    node = run("node", "--help", check=0).text
    for word in ("[discovery]", "cluster = shop", "interval", "silence_timeout",
                 "interface_address", "bind_address", "multicast_ttl"):
        assert word in node, word
    for command in ("consume", "describe"):
        text = run(command, "--help", check=0).text
        for word in ("--discover CLUSTER", "--discovery-address", "--discovery-port",
                     "--discovery-interface", "--discovery-key"):
            assert word in text, (command, word)
    assert "listens for beacons" in run("consume", "--help", check=0).text
