#!/usr/bin/python3
"""Publishes order events to the topic "orders" and keeps serving them.

    examples/python/producer.py --journal /tmp/shop --count 1000 [--serve 30]

The producer binds tcp://127.0.0.1:7000 (live) and :7001 (replay) unless told
otherwise, prints where each record landed every 100 records, then keeps
serving replays for --serve seconds (consumers started later catch up).
"""
import argparse
import json
import time

import brook


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--journal", required=True)
    ap.add_argument("--pub", default="tcp://127.0.0.1:7000")
    ap.add_argument("--replay", default="tcp://127.0.0.1:7001")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--serve", type=float, default=0, help="seconds to keep serving after")
    args = ap.parse_args()
    with brook.Producer(args.journal, pub_endpoint=args.pub, replay_endpoint=args.replay,
                        durability="fsync") as shop:
        shop.create_topic("orders", partitions=3)
        # Asynchronous publishes, so group commit gathers them into few fsyncs.
        futures = []
        for i in range(args.count):
            order = {"order": i, "customer": f"c{i % 17}", "amount": 10 + i % 90}
            futures.append(shop.publish_async("orders", json.dumps(order),
                                              key=order["customer"]))
        for i, f in enumerate(futures):
            partition, offset = f.result(timeout=30)
            if i % 100 == 0:
                print(f"order {i} -> orders/{partition}@{offset}")
        print(f"published {args.count} orders; producer {shop.producer_id}", flush=True)
        time.sleep(args.serve)


if __name__ == "__main__":
    main()
