"""The ingest protocol of `brook node` spoken by a program in another
language (Python with pyzmq and msgpack), as docs/PROTOCOL.md, "Ingest",
specifies it: acks with positions, errors with brook's codes, garbage
answered or dropped without harm to the node."""
import json

import msgpack
import pytest
import zmq

from conftest import run
from test_produce_node import Node, write_config


@pytest.fixture
def ingest(tmp_path):
    n = Node(write_config(tmp_path, "[topic orders]\npartitions = 2\n"))
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 10_000)
    sock.connect(n.ready["ingest"])

    def call(frame):
        sock.send(frame)
        return msgpack.unpackb(sock.recv())

    yield n, call
    sock.close()
    ctx.term()
    n.kill()


def consume(n, topic):
    r = run("consume", topic, "--pub", n.ready["pub"], "--replay", n.ready["replay"], "--json",
            check=0)
    return r.json_lines()


def test_publish_and_ack(ingest):
    n, call = ingest
    records = [[b"customer-7", [[b"source", b"web"]], b'{"order": 1}', None],
               [None, [], b"\xff\x00", 1],
               [b"", [], b"third", 0]]
    answer = call(msgpack.packb([1, 1, 41, "orders", 0, records]))
    assert answer[:3] == [1, 2, 41]
    positions = answer[3]
    assert len(positions) == 3 and positions[1][0] == 1 and positions[2][0] == 0
    got = {(r["partition"], r["offset"]): r for r in consume(n, "orders")}
    assert len(got) == 3
    first = got[(positions[0][0], positions[0][1])]
    assert first["key"] == "customer-7" and first["headers"] == {"source": "web"}
    assert first["payload"] == '{"order": 1}' and first["timestamp_ns"] == positions[0][2]
    assert got[(1, positions[1][1])]["payload_base64"] == "/wA="
    assert got[(0, positions[2][1])]["key"] == ""


def test_create_partitions_makes_the_topic(ingest):
    n, call = ingest
    answer = call(msgpack.packb([1, 1, 1, "fresh", 4, [[None, [], b"x", 3]]]))
    assert answer[:3] == [1, 2, 1] and answer[3][0][:2] == [3, 0]
    stats = json.loads(run("describe", "--pub", n.ready["pub"], "--replay", n.ready["replay"],
                           "--json", check=0).text)
    topics = {t["name"]: t for t in stats["topics"]}
    assert len(topics["fresh"]["partitions"]) == 4


@pytest.mark.parametrize("frame, code, words", [
    (msgpack.packb([1, 1, 7, "missing", 0, [[None, [], b"x", None]]]), 2, "missing"),
    (msgpack.packb([1, 1, 7, "orders", 0, [[None, [], b"x", 9]]]), 1, "partition 9"),
    (msgpack.packb([1, 1, 7, "orders", 0, []]), 1, "at least one record"),
    (msgpack.packb([1, 1, 7, "orders", 0, [[None, [], "not bytes", None]]]), 1, "payload"),
    (msgpack.packb([2, 1, 7, "orders", 0, []]), 4, "version 2"),
    (b"\xc1garbage", 1, "malformed"),
])
def test_errors_name_the_request_and_the_cause(ingest, frame, code, words):
    n, call = ingest
    answer = call(frame)
    assert answer[1] == 3 and answer[3] == code and words in answer[4], answer
    # The id is echoed whenever it could be read.
    assert answer[2] == (0 if frame.startswith(b"\xc1") or frame[1:2] == b"\x02" else 7)
    # Nothing was published, and the node goes on serving.
    assert call(msgpack.packb([1, 1, 8, "orders", 0, [[None, [], b"ok", 0]]]))[:3] == [1, 2, 8]
    assert [r["payload"] for r in consume(n, "orders")] == ["ok"]
