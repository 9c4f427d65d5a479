"""An independent client, written from docs/PROTOCOL.md alone with pyzmq and
msgpack (nothing of brook's is imported by the client functions below): it
reads a running producer's live stream and makes a replay request, and what
it decodes must equal what brook's own consumer delivers."""
import time

import msgpack
import zmq

import brook  # only to run the producer and the reference consumer


# --- the independent client (docs/PROTOCOL.md) ------------------------------

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def decode_records(buf, start, count, partition):
    """`count` records from buf[start:], each checked (fixed widths, CRC)."""
    out = []
    pos = start
    for _ in range(count):
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(buf[pos:])
        rec = unpacker.unpack()
        size = unpacker.tell()
        raw = buf[pos:pos + size]
        assert raw[0] == 0x96 and raw[1] == 0xCF and raw[10] == 0xCF, "record header"
        assert raw[-5] == 0xCE, "crc field"
        assert crc32c(raw[:-5]) == int.from_bytes(raw[-4:], "big"), "CRC"
        offset, ts, key, headers, payload, _ = rec
        out.append((partition, offset, ts, key, sorted(headers.items()), payload))
        pos += size
    assert pos == len(buf), "trailing bytes"
    return out


def split_header(frame_body):
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(frame_body)
    header = unpacker.unpack()
    return header, unpacker.tell()


def read_live(sub, topic, want, limit=10.0):
    """Records messages of `topic` until `want` records came; heartbeats skipped."""
    prefix = topic.encode() + b"\0"
    got = []
    deadline = time.monotonic() + limit
    while len(got) < want and time.monotonic() < deadline:
        if not sub.poll(100):
            continue
        frame = sub.recv()
        assert frame.startswith(prefix)
        body = frame[len(prefix):]
        header, used = split_header(body)
        assert header[0] == 1
        if header[1] == 1:  # records
            _, _, producer_id, epoch, partition, first, count = header
            assert len(producer_id) == 16
            recs = decode_records(body, used, count, partition)
            assert [r[1] for r in recs] == list(range(first, first + count))
            got += recs
    return got


def wait_heartbeat(sub, topic, limit=10.0):
    prefix = topic.encode() + b"\0"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if sub.poll(100):
            frame = sub.recv()
            header, _ = split_header(frame[len(prefix):])
            if header[1] == 2:
                return header
    raise AssertionError("no heartbeat")


def replay(dealer, topic, partition, from_offset, request_id=7, limit=10.0):
    dealer.send(msgpack.packb([1, 17, request_id, topic, partition, from_offset,
                               2**64 - 1, 2**64 - 1, 2, 0]))
    got = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not dealer.poll(100):
            continue
        body = dealer.recv()
        header, used = split_header(body)
        assert header[0] == 1 and header[2] == request_id
        if header[1] == 33:  # page
            _, _, _, part, first, count, low, high, epoch = header
            got += decode_records(body, used, count, part)
            dealer.send(msgpack.packb([1, 18, request_id, 1]))  # credit
        elif header[1] == 34:  # end
            _, _, _, next_offset, low, high, epoch = header
            assert next_offset == high
            return got
        else:
            raise AssertionError(f"answer {header}")
    raise AssertionError("no end")


# --- the test ------------------------------------------------------------------

def test_independent_client_decodes_what_brook_delivers(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync",
                        heartbeat_interval=0.05) as p:
        p.create_topic("orders", partitions=2)
        for i in range(40):  # before anyone listens: only replay has them
            p.publish("orders", f"early {i}", key=f"k{i % 5}",
                      headers={"type": "order", "n": str(i)}, partition=i % 2)

        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"orders\0")
        sub.connect(p.pub_endpoint)
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(p.replay_endpoint)
        try:
            hb = wait_heartbeat(sub, "orders")  # subscribed: live from now on
            assert hb[0] == 1 and len(hb[2]) == 16 and len(hb[5]) == 2
            dealer.send(msgpack.packb([1, 16, 3]))  # describe
            assert dealer.poll(5000)
            answer = msgpack.unpackb(dealer.recv(), raw=False)
            assert answer[:3] == [1, 32, 3] and answer[3] == hb[2]
            assert answer[5] == [["orders", [[0, 20], [0, 20]]]]

            for i in range(40, 60):  # live
                p.publish("orders", f"live {i}", key=None,
                          headers={"type": "order"}, partition=i % 2)
            live = read_live(sub, "orders", 20)
            replayed = replay(dealer, "orders", 0, 0) + replay(dealer, "orders", 1, 0, 8)
        finally:
            sub.close(0)
            dealer.close(0)
            ctx.term()

        with brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"]) as c:
            reference = []
            deadline = time.monotonic() + 20
            while len(reference) < 60 and time.monotonic() < deadline:
                reference += [x for x in c.poll(timeout=0.2) if isinstance(x, brook.Record)]

    def as_tuple(r):
        return (r.partition, r.offset, r.timestamp_ns, r.key,
                sorted(r.headers), r.payload)

    ref = sorted(as_tuple(r) for r in reference)
    assert len(ref) == 60
    assert sorted(replayed) == ref  # the whole journal, by replay
    live_set = {(r[0], r[1]) for r in live}
    assert sorted(live) == [t for t in ref if (t[0], t[1]) in live_set]
    assert len(live) == 20 and all(r[5].startswith(b"live") for r in live)
