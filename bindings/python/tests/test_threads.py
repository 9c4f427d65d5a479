"""Many Python threads publishing while another consumes; publish_async."""
import threading
import time

import pytest

import brook


def test_many_threads_publish_while_one_consumes(tmp_path):
    threads_n, per_thread = 8, 250
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        p.create_topic("orders", partitions=threads_n)
        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"]) as c:
            received = []
            stop = threading.Event()

            def consume():
                deadline = time.monotonic() + 30
                while not stop.is_set() and len(received) < threads_n * per_thread \
                        and time.monotonic() < deadline:
                    received.extend(x for x in c.poll(timeout=0.1)
                                    if isinstance(x, brook.Record))

            def produce(t):
                for i in range(per_thread):
                    assert p.publish("orders", f"{t}:{i}", partition=t) == (t, i)

            consumer = threading.Thread(target=consume)
            consumer.start()
            producers = [threading.Thread(target=produce, args=(t,)) for t in range(threads_n)]
            for t in producers:
                t.start()
            for t in producers:
                t.join()
            consumer.join(timeout=40)
            stop.set()
    assert len(received) == threads_n * per_thread
    for t in range(threads_n):
        mine = [r for r in received if r.partition == t]
        assert [r.offset for r in mine] == list(range(per_thread))
        assert [r.payload for r in mine] == [f"{t}:{i}".encode() for i in range(per_thread)]


def test_publish_async_futures(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="fsync") as p:
        p.create_topic("orders")
        futures = [p.publish_async("orders", f"r{i}") for i in range(500)]
        assert [f.result(timeout=30) for f in futures] == [(0, i) for i in range(500)]
        assert all(f.done() for f in futures)
        with pytest.raises(brook.NotFound):
            p.publish_async("nope", b"x").result(timeout=5)
