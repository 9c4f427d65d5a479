#!/usr/bin/python3
"""A billing service: follows "orders" under a stored position, so after a
restart it gets exactly what it missed, then live orders.

    examples/python/consumer.py --state /tmp/billing [--count N] [--idle 2]

Stops after --count records, or after --idle seconds without one.
"""
import argparse
import json
import time

import brook


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--state", required=True, help="where the position is kept")
    ap.add_argument("--pub", default="tcp://127.0.0.1:7000")
    ap.add_argument("--replay", default="tcp://127.0.0.1:7001")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--idle", type=float, default=2.0)
    args = ap.parse_args()
    total = 0
    amount = 0
    last = time.monotonic()
    with brook.Consumer([(args.pub, args.replay)], ["orders"], name="billing",
                        state_dir=args.state) as billing:
        while time.monotonic() - last < args.idle and (not args.count or total < args.count):
            for item in billing.poll(timeout=0.2, max_records=1000):
                if isinstance(item, brook.Event):
                    print("event:", item.message)
                    continue
                amount += json.loads(item.payload)["amount"]
                total += 1
                last = time.monotonic()
    # Closing commits the position: the next run starts after these.
    print(f"billed {total} orders, amount {amount}")


if __name__ == "__main__":
    main()
