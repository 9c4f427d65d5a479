#!/usr/bin/python3
"""The consumer inside an asyncio program, without a thread: the loop watches
the consumer's file descriptor (readable while records wait) and polls with a
zero timeout when it fires.

    examples/python/asyncio_consumer.py [--count N] [--idle 2]
"""
import argparse
import asyncio

import brook


async def consume(consumer, count, idle):
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    loop.add_reader(consumer.fileno(), ready.set)
    total = 0
    try:
        while not count or total < count:
            try:
                await asyncio.wait_for(ready.wait(), timeout=idle)
            except asyncio.TimeoutError:
                break
            ready.clear()
            for item in consumer.poll(timeout=0, max_records=1000):
                if isinstance(item, brook.Record):
                    total += 1
    finally:
        loop.remove_reader(consumer.fileno())
    return total


async def heartbeat():
    while True:  # other work the loop goes on doing meanwhile
        await asyncio.sleep(0.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pub", default="tcp://127.0.0.1:7000")
    ap.add_argument("--replay", default="tcp://127.0.0.1:7001")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--idle", type=float, default=2.0)
    args = ap.parse_args()

    async def run():
        ticker = asyncio.create_task(heartbeat())
        with brook.Consumer([(args.pub, args.replay)], ["orders"]) as c:
            total = await consume(c, args.count, args.idle)
        ticker.cancel()
        print(f"received {total} orders in asyncio")

    asyncio.run(run())


if __name__ == "__main__":
    main()
