"""Discovery from Python: a Producer with discovery=... announces itself in UDP
beacons, a Consumer with discovery=... and no producers finds it and gets
every record once, in order; CURVE keys say which beacons to believe; the
settings are checked. Real UDP on the loopback broadcast address
(127.255.255.255) on a free port, real producers on 127.0.0.1."""
import datetime
import socket
import time

import pytest

import brook


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback(port, cluster="shop", **more):
    """Discovery settings that stay on this host: beacons to the loopback
    broadcast address, sent from 127.0.0.1, heard by a socket bound to the
    broadcast address itself."""
    d = {"cluster": cluster, "address": "127.255.255.255", "bind_address": "127.255.255.255",
         "interface_address": "127.0.0.1", "port": port, "interval": 0.05,
         "silence_timeout": 1.0}
    d.update(more)
    return d


def records_of(items):
    return [x for x in items if isinstance(x, brook.Record)]


def poll_until(c, got, want, limit=20.0):
    """Polls into `got` until it holds `want` records (bounded in time), then
    a little longer: nothing more may come."""
    deadline = time.monotonic() + limit
    while len(got) < want and time.monotonic() < deadline:
        got += records_of(c.poll(timeout=0.2))
    got += records_of(c.poll(timeout=0.3))
    return got


def check_once_in_order(records, producer, payloads):
    """The records of `producer`: each payload once, and per partition the
    offsets dense from 0, in order."""
    mine = [r for r in records if r.producer == producer]
    per_partition = {}
    for r in mine:
        per_partition.setdefault(r.partition, []).append(r.offset)
    for partition, offsets in per_partition.items():
        assert offsets == list(range(len(offsets))), partition
    assert sorted(r.payload for r in mine) == sorted(payloads)


def publish_numbered(p, start, n):
    payloads = [f"r{i}".encode() for i in range(start, start + n)]
    for i, payload in enumerate(payloads, start):
        p.publish("orders", payload, key=f"k{i % 11}")
    return payloads


def test_a_consumer_with_no_endpoints_finds_a_producer(tmp_path):
    d = loopback(free_udp_port())
    with brook.Producer(str(tmp_path / "p"), durability="nosync", discovery=d) as p:
        p.create_topic("orders", partitions=3)
        payloads = publish_numbered(p, 0, 300)
        with brook.Consumer(topics=["orders"], discovery=d) as c:
            got = poll_until(c, [], 300)
            assert len(got) == 300
            check_once_in_order(got, p.producer_id, payloads)
            # Live records follow, once each, after the replayed ones.
            payloads += publish_numbered(p, 300, 100)
            got = poll_until(c, got, 400)
            assert len(got) == 400
            check_once_in_order(got, p.producer_id, payloads)
            stats = c.stats()
            assert stats["producers_discovered"] == 1 and stats["beacons_dropped"] == 0
        stats = p.stats()
        assert stats["beacon_rounds"] > 0 and stats["beacon_errors"] == 0
        assert stats["records_published"] == 400


def test_producers_that_start_later_are_followed_too(tmp_path):
    # Durations as timedelta work as well as seconds.
    d = loopback(free_udp_port(), interval=datetime.timedelta(milliseconds=50),
                 silence_timeout=datetime.timedelta(seconds=1))
    with brook.Consumer(None, ["orders"], discovery=d) as c:
        assert records_of(c.poll(timeout=0.3)) == []
        with brook.Producer(str(tmp_path / "a"), durability="nosync", discovery=d) as a, \
                brook.Producer(str(tmp_path / "b"), durability="nosync", discovery=d) as b:
            a.create_topic("orders", partitions=2)
            b.create_topic("orders", partitions=1)
            b.create_topic("other")
            b.publish("other", b"not followed")
            from_a = publish_numbered(a, 0, 120)
            from_b = publish_numbered(b, 0, 80)
            got = poll_until(c, [], 200)
            assert len(got) == 200
            check_once_in_order(got, a.producer_id, from_a)
            check_once_in_order(got, b.producer_id, from_b)
            assert c.stats()["producers_discovered"] == 2


def test_a_producer_of_another_cluster_is_not_followed(tmp_path):
    port = free_udp_port()
    with brook.Producer(str(tmp_path / "p"), durability="nosync",
                        discovery=loopback(port, cluster="warehouse")) as p:
        p.create_topic("orders")
        p.publish("orders", b"x")
        with brook.Consumer(topics=["orders"], discovery=loopback(port)) as c:
            assert poll_until(c, [], 1, limit=1.0) == []
            # Another cluster's beacons are not "dropped": they are not ours.
            assert c.stats()["producers_discovered"] == 0
            assert c.stats()["beacons_dropped"] == 0


def test_curve_believes_only_the_listed_server_keys(tmp_path):
    server, client, stranger = brook.generate_keys(), brook.generate_keys(), brook.generate_keys()
    d = loopback(free_udp_port())
    with brook.Producer(str(tmp_path / "p"), durability="nosync", keys=server,
                        allowed_client_keys=[client[0]], discovery=d) as p:
        p.create_topic("orders", partitions=2)
        payloads = publish_numbered(p, 0, 50)
        with brook.Consumer(topics=["orders"], keys=client, discovery=d,
                            discovery_server_keys=[server[0]]) as c:
            got = poll_until(c, [], 50)
            assert len(got) == 50
            check_once_in_order(got, p.producer_id, payloads)
        with brook.Consumer(topics=["orders"], keys=client, discovery=d,
                            discovery_server_keys=[stranger[0]]) as c:
            assert poll_until(c, [], 1, limit=1.0) == []
            assert c.stats()["producers_discovered"] == 0
            assert c.stats()["beacons_dropped"] > 0


def test_settings_are_checked():
    with pytest.raises(brook.InvalidArgument, match="unknown setting 'speed'"):
        brook.Consumer(topics=["t"], discovery={"cluster": "shop", "speed": 3})
    with pytest.raises(brook.InvalidArgument, match=r"discovery\['port'\] must be 1..65535"):
        brook.Consumer(topics=["t"], discovery={"cluster": "shop", "port": 70000})
    with pytest.raises(TypeError, match=r"discovery\['port'\] must be an int"):
        brook.Consumer(topics=["t"], discovery={"cluster": "shop", "port": "7099"})
    with pytest.raises(TypeError, match="interval"):
        brook.Consumer(topics=["t"], discovery={"cluster": "shop", "interval": "1s"})
    with pytest.raises(TypeError, match="cluster name"):
        brook.Consumer(topics=["t"], discovery=7099)
    # The library's own checks, before any socket is opened.
    with pytest.raises(brook.InvalidArgument, match="cluster"):
        brook.Consumer(topics=["t"], discovery="no spaces allowed")
    with pytest.raises(brook.InvalidArgument, match="silence_timeout"):
        brook.Consumer(topics=["t"], discovery={"cluster": "shop", "interval": 2.0,
                                                "silence_timeout": 1.0})
    with pytest.raises(brook.InvalidArgument, match="address"):
        brook.Consumer(topics=["t"], discovery={"cluster": "shop", "address": "10.1.2.3"})
    with pytest.raises(brook.InvalidArgument, match="cluster"):
        brook.Producer("/nonexistent/never-created", discovery={"port": 7099})
    # Without discovery, producers are needed; topics always.
    with pytest.raises(brook.InvalidArgument, match="producers is empty"):
        brook.Consumer(topics=["t"])
    with pytest.raises(TypeError, match="topics"):
        brook.Consumer(discovery="shop")
    with pytest.raises(brook.InvalidArgument, match="discovery_server_keys"):
        brook.Consumer(topics=["t"], discovery="shop",
                       discovery_server_keys=[brook.generate_keys()[0]])
    with pytest.raises(brook.InvalidArgument, match="discovery_server_keys"):
        brook.Consumer(topics=["t"], keys=brook.generate_keys(), discovery="shop")
