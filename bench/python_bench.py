#!/usr/bin/python3
"""Python beside C++ on the same stream: publish_batch from Python (nosync),
and a Python consumer loop polling batches, each catching up on the same
journal, beside node_bench's C++ consumer process on it in the same run.

    PYTHONPATH=build/bindings/python bench/python_bench.py [--records N] [--runs R] [--quick]
        [--node-bench build/bench/node_bench]

One JSON line per figure on stdout (bench/bench_util.h's format), progress on
stderr. Every record is checked: per partition, offsets dense from 0.
"""
import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import brook

PARTITIONS = 4


def report(name, group, samples, size=100, mode="nosync"):
    value = statistics.median(samples)
    print(json.dumps({"group": group, "system": "brook", "name": name, "size": size,
                      "mode": mode, "metric": "rate", "unit": "rec/s", "value": value,
                      "samples": samples}), flush=True)
    print(f"  {group:10} {name:55} {value:14,.0f} rec/s", file=sys.stderr)


def payloads(first_seq, count):
    """node_bench's payload: 8 bytes of send time, 8 of the offset, filler to 100 B."""
    filler = b"x" * 84
    return [struct.pack("<qQ", 0, (first_seq + i) // PARTITIONS) + filler
            for i in range(count)]


def publish(producer, records):
    """publish_batch of 1,000 per partition at a time; returns records/s."""
    start = time.perf_counter()
    seq = 0
    while seq < records:
        n = min(4000, records - seq)
        batch = payloads(seq, n)
        for part in range(PARTITIONS):
            producer.publish_batch("bench", batch[part::PARTITIONS], partition=part)
        seq += n
    return records / (time.perf_counter() - start)


def python_consumer(producer, records):
    nxt = [0] * PARTITIONS
    errors = 0
    got = 0
    start = time.perf_counter()
    with brook.Consumer([(producer.pub_endpoint, producer.replay_endpoint)], ["bench"]) as c:
        deadline = time.monotonic() + 120
        while got < records and time.monotonic() < deadline:
            for r in c.poll(timeout=1.0, max_records=10000):
                p = r.partition
                if r.offset != nxt[p]:
                    errors += 1
                nxt[p] = r.offset + 1
                got += 1
        elapsed = time.perf_counter() - start
    if errors or got != records:
        raise SystemExit(f"python_bench: the Python consumer got {got} of {records} records "
                         f"with {errors} out of order: void")
    return records / elapsed


def cpp_consumer(node_bench, producer, records):
    child = subprocess.Popen([node_bench, "--consumer"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    start = time.monotonic_ns()
    child.stdin.write(f"{producer.pub_endpoint} {producer.replay_endpoint} {PARTITIONS} "
                      f"{records} {records} 0\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "ready"
    fields = child.stdout.readline().split()
    child.wait()
    if not fields or fields[0] != "ok" or int(fields[2]) != 0:
        raise SystemExit(f"python_bench: the C++ consumer failed: {fields}")
    return records / ((int(fields[4]) - start) / 1e9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--node-bench", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench", "node_bench"))
    ap.add_argument("--dir", default="/var/tmp")
    args = ap.parse_args()
    if args.quick:
        args.records, args.runs = 40_000, 1
    pub, py, cpp = [], [], []
    for run in range(args.runs):
        d = tempfile.mkdtemp(prefix="brook-python-bench-", dir=args.dir)
        try:
            with brook.Producer(os.path.join(d, "j"), durability="nosync") as p:
                p.create_topic("bench", partitions=PARTITIONS)
                pub.append(publish(p, args.records))
                # Alternate which consumer goes first: noise hits both.
                if run % 2 == 0:
                    py.append(python_consumer(p, args.records))
                    cpp.append(cpp_consumer(args.node_bench, p, args.records))
                else:
                    cpp.append(cpp_consumer(args.node_bench, p, args.records))
                    py.append(python_consumer(p, args.records))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    report("Python publish_batch, 1,000 per call", "publish", pub)
    report(f"Python consumer loop, poll batches, catch-up of {args.records}", "python", py)
    report(f"C++ consumer process, catch-up of {args.records}", "python", cpp)
    print(f"  python/C++ consumer: {statistics.median(py) / statistics.median(cpp):.2f}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
