"""The brook module against real producers and consumers on loopback: every
record checked (none lost, none duplicated, order kept per partition)."""
import threading
import time

import pytest

import brook


def poll_until(consumer, count, limit=20.0):
    """Everything polled until `count` records arrived or `limit` seconds passed."""
    got = []
    deadline = time.monotonic() + limit
    while len([x for x in got if isinstance(x, brook.Record)]) < count \
            and time.monotonic() < deadline:
        got.extend(consumer.poll(timeout=0.2, max_records=1000))
    return got


def check_streams(records, partitions, per_partition, first=0):
    """Each partition dense from `first`, each payload naming its place."""
    by_part = {p: [] for p in range(partitions)}
    for r in records:
        by_part[r.partition].append(r)
    for p, rs in by_part.items():
        assert [r.offset for r in rs] == list(range(first, first + per_partition)), p
        for r in rs:
            assert r.payload == f"orders/{r.partition}@{r.offset}".encode()


def publish(producer, partitions, first, count):
    for p in range(partitions):
        producer.publish_batch(
            "orders", [f"orders/{p}@{o}" for o in range(first, first + count)], partition=p)


def test_round_trip_replay_then_live(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync", heartbeat_interval=0.05) as p:
        p.create_topic("orders", partitions=3)
        publish(p, 3, 0, 200)  # before the consumer: replayed
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"]) as c:
            got = poll_until(c, 600)
            publish(p, 3, 200, 200)  # after: live
            got += poll_until(c, 600)
            records = [x for x in got if isinstance(x, brook.Record)]
            assert not [x for x in got if isinstance(x, brook.Event)]
            assert len(records) == 1200
            check_streams(records, 3, 400)
            assert all(r.producer == p.producer_id for r in records)
            assert c.stats()["records_delivered"] == 1200


def test_publish_returns_positions_and_keeps_keys_and_headers(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        p.create_topic("orders", partitions=2)
        assert p.publish("orders", b"a", partition=1) == (1, 0)
        assert p.publish("orders", "b", partition=1, key=b"k", headers={"type": "x"}) == (1, 1)
        part, _ = p.publish("orders", b"c", key="customer-42")
        assert part in (0, 1)
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"]) as c:
            records = [x for x in poll_until(c, 3) if isinstance(x, brook.Record)]
        by_payload = {r.payload: r for r in records}
        assert by_payload[b"a"].key is None
        assert by_payload[b"b"].key == b"k"
        assert by_payload[b"b"].headers == [("type", b"x")]
        assert by_payload[b"c"].key == b"customer-42"


def test_stored_position_resumes_after_close(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync", heartbeat_interval=0.05) as p:
        p.create_topic("orders", partitions=2)
        publish(p, 2, 0, 100)
        eps = [(p.pub_endpoint, p.replay_endpoint)]
        state = str(tmp_path / "state")
        with brook.Consumer(eps, ["orders"], name="billing", state_dir=state) as c:
            first = [x for x in poll_until(c, 200) if isinstance(x, brook.Record)]
            c.commit()
        check_streams(first, 2, 100)
        publish(p, 2, 100, 50)
        with brook.Consumer(eps, ["orders"], name="billing", state_dir=state) as c:
            rest = [x for x in poll_until(c, 100) if isinstance(x, brook.Record)]
            assert c.poll(timeout=0.3) == []  # nothing more: no duplicate
        check_streams(rest, 2, 50, first=100)


def test_errors_are_exceptions_with_brook_messages(tmp_path):
    with pytest.raises(brook.InvalidArgument, match="durability"):
        brook.Producer(str(tmp_path / "j"), durability="sometimes")
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        with pytest.raises(brook.Error):
            p.publish("no-such-topic", b"x")
        with pytest.raises(brook.InvalidArgument, match="producers"):
            brook.Consumer([], ["orders"])
        with pytest.raises(TypeError):
            p.publish("orders", 42)
    with pytest.raises(brook.FailedPrecondition, match="closed"):
        p.publish("orders", b"x")
    assert issubclass(brook.DataLoss, brook.Error)


def test_poll_releases_the_gil(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        p.create_topic("orders")
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"]) as c:
            ticks = []
            stop = threading.Event()

            def tick():
                while not stop.is_set() and len(ticks) < 10000:
                    ticks.append(1)
                    time.sleep(0.001)

            t = threading.Thread(target=tick)
            t.start()
            assert c.poll(timeout=0.5) == []
            stop.set()
            t.join()
            assert len(ticks) > 50  # the other thread ran during the wait
