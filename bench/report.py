#!/usr/bin/python3
"""Gathers the figures of a benchmark run (JSON lines, see bench_util.h) into
one table and one JSON file, with each brook figure beside the baseline or
peer it is judged against, as a ratio, and the issue's targets checked.

    bench/report.py --out results.json FILE.jsonl [FILE.jsonl ...]

Figures are medians of their runs (bench_util.h); ratios are ratios of
medians measured in the same run, which is what to read on a noisy machine.
"""
import argparse
import datetime
import json
import os
import platform
import sys


def load(paths):
    figures = []
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    fig = json.loads(line)
                except json.JSONDecodeError as e:
                    print(f"report: {path}:{n}: not JSON ({e}); skipped", file=sys.stderr)
                    continue
                fig["source"] = os.path.basename(path)
                figures.append(fig)
    return figures


def pick(figures, best="max", **want):
    """The figure matching every field of `want` (a value, or a predicate),
    the best of several by value (max for rates, min for latencies)."""
    found = []
    for f in figures:
        ok = True
        for k, v in want.items():
            have = f.get(k)
            if callable(v):
                if have is None or not v(have):
                    ok = False
                    break
            elif have != v:
                ok = False
                break
        if ok:
            found.append(f)
    if not found:
        return None
    return (max if best == "max" else min)(found, key=lambda f: f["value"])


def has(*texts):
    """A name predicate: every text occurs in the name, ignoring case."""
    return lambda name: all(t.lower() in name.lower() for t in texts)


def fmt(v, unit):
    if v is None:
        return "—"
    if unit == "rec/s":
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def targets(figs):
    """The targets of the speed issue, each as (what, brook, other, ratio,
    needed ratio, comparison)."""
    rows = []

    def add(what, mine, other, need, higher_is_better=True, absolute=None):
        if mine is None:
            rows.append({"target": what, "status": "not measured"})
            return
        row = {"target": what, "brook": mine["value"], "unit": mine["unit"],
               "brook_figure": mine["name"]}
        ok = True
        if other is not None:
            ratio = mine["value"] / other["value"] if other["value"] else None
            row.update({"against": f'{other["system"]}: {other["name"]}',
                        "against_value": other["value"], "ratio": ratio, "needed": need})
            if need is None:  # a figure for context, no target
                row["status"] = "context"
                rows.append(row)
                return
            if ratio is not None:
                ok = ratio >= need if higher_is_better else ratio <= need
        elif need is not None and absolute is None:
            row["status"] = "baseline not measured"
            rows.append(row)
            return
        if absolute is not None:
            row["absolute_needed"] = absolute
            ok = ok and (mine["value"] >= absolute if higher_is_better
                         else mine["value"] <= absolute)
        row["status"] = "met" if ok else "MISSED"
        rows.append(row)

    for size in (100, 1024):
        add(f"e2e nosync {size} B >= raw ZeroMQ PUB/SUB tcp",
            pick(figs, group="e2e", system="brook", mode="nosync", size=size),
            pick(figs, group="pubsub", system="zmq", size=size, name=has("tcp")), 1.0)
    fsync_pub = pick(figs, group="publish", system="brook", mode="fsync", size=100,
                     name=has("64 publishers, window"))
    add("fsync publish, 64 publishers >= 350,000/s", fsync_pub, None, None, absolute=350_000)
    add("fsync publish, 64 publishers >= 3x JetStream async publish", fsync_pub,
        pick(figs, group="publish", system="nats", size=100, name=has("async")), 3.0)
    add("fsync publish, 64 publishers >= Redis appendfsync always", fsync_pub,
        pick(figs, group="publish", system="redis", size=100, mode="fsync"), 1.0)
    replay = pick(figs, group="replay", system="brook", size=100,
                  name=lambda n: n.startswith("catch-up of 1000000 records") and "live" not in n)
    if replay is None:
        replay = pick(figs, group="replay", system="brook", size=100,
                      name=lambda n: "live" not in n)
    add("replay catch-up >= 2,000,000/s", replay, None, None, absolute=2_000_000)
    add("replay catch-up >= 2x Redis XREAD", replay,
        pick(figs, group="replay", system="redis", size=100), 2.0)
    add("replay catch-up >= 6x JetStream replay", replay,
        pick(figs, group="replay", system="nats", size=100), 6.0)
    for metric, need in (("p50", 1.5), ("p99", 2.0)):
        add(f"latency @10k/s nosync {metric} <= {need}x raw ZeroMQ one-way",
            pick(figs, best="min", group="latency", system="brook", mode="nosync",
                 metric=metric, name=has("handler", "@10000/s")),
            pick(figs, best="min", group="latency", system="zmq", metric=metric,
                 name=has("@10000/s")), need, higher_is_better=False)
    fsync_p99 = pick(figs, best="min", group="latency", system="brook", mode="fsync",
                     metric="p99", name=has("handler", "@10000/s"))
    add("latency @10k/s fsync p99 <= 2x one synchronous LMDB commit p99", fsync_p99,
        pick(figs, best="min", group="lmdb", system="lmdb", metric="p99",
             name=has("one synchronous")), 2.0, higher_is_better=False)
    # Context for the row above: the floor any single-writer LMDB journal
    # meets at this rate (group commit, nothing but the commits). Its ratio to
    # one commit says whether 2x is reachable on this machine at all.
    floor = pick(figs, best="min", group="lmdb", system="lmdb", metric="p99",
                 name=lambda n: n.startswith("group commit at 10k/s"))
    one_commit = pick(figs, best="min", group="lmdb", system="lmdb", metric="p99",
                      name=has("one synchronous"))
    add("(bound) LMDB group commit p99 at 10k/s <= 2x one synchronous commit p99", floor,
        one_commit, 2.0, higher_is_better=False)
    # The same with commits overlapped (a syncer thread flushes commit N's
    # meta page while the committer writes N+1): the best a single LMDB writer
    # can do while keeping LMDB's data-before-meta ordering.
    add("(bound) LMDB pipelined group commit p99 at 10k/s <= 2x one synchronous commit p99",
        pick(figs, best="min", group="lmdb", system="lmdb", metric="p99",
             name=has("pipelined group commit at 10k/s")),
        one_commit, 2.0, higher_is_better=False)
    add("(bound) brook fsync p99 / LMDB group commit p99, both at 10k/s", fsync_p99, floor,
        None, higher_is_better=False)
    # Under load (load_bench): each load's publish rate against the unloaded
    # rate of the same run, already a ratio (of the run's two unloaded phases).
    prefix = "publish, batches of 100, "
    for f in figs:
        if (f["group"] != "load" or f["metric"] != "ratio" or "unloaded" in f["name"]
                or not f["name"].startswith(prefix)):
            continue
        load = f["name"][len(prefix):]
        rate = pick(figs, group="load", metric="rate", mode=f["mode"], name=f["name"])
        unloaded = [u["value"] for u in figs if u["group"] == "load" and u["metric"] == "rate"
                    and u["mode"] == f["mode"] and u["name"].startswith(prefix + "unloaded")]
        if rate is None or not unloaded:
            continue
        rows.append({"target": f'publish under load within 20 % of unloaded, {f["mode"]}: {load}',
                     "brook": rate["value"], "unit": "rec/s", "brook_figure": f["name"],
                     "against": "brook: unloaded, same runs (mean of before and after)",
                     "against_value": sum(unloaded) / len(unloaded),
                     "ratio": f["value"], "needed": 0.8,
                     "status": "met" if f["value"] >= 0.8 else "MISSED"})
    return rows


def table(figs):
    """Every figure, grouped, with the best baseline of its group and size."""
    order = ["e2e", "pubsub", "publish", "replay", "latency", "rtt", "lmdb", "memory", "load"]
    groups = sorted({f["group"] for f in figs},
                    key=lambda g: (order.index(g) if g in order else len(order), g))
    lines = []
    for g in groups:
        lines.append(f"\n## {g}\n")
        lines.append(f'| system | what | size | mode | metric | value | unit |')
        lines.append("| --- | --- | ---: | --- | --- | ---: | --- |")
        rows = [f for f in figs if f["group"] == g]
        rows.sort(key=lambda f: (f["size"], f["metric"], f["system"] != "brook", f["system"],
                                 f["mode"], f["name"]))
        for f in rows:
            lines.append(f'| {f["system"]} | {f["name"]} | {f["size"]} | {f["mode"]} | '
                         f'{f["metric"]} | {fmt(f["value"], f["unit"])} | {f["unit"]} |')
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write figures and targets as JSON here")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    figs = load(args.files)
    if not figs:
        print("report: no figures found", file=sys.stderr)
        return 1
    print(table(figs))
    rows = targets(figs)
    print("\n## targets (ratios of medians measured in this run)\n")
    print("| target | brook | against | ratio | needed | status |")
    print("| --- | ---: | --- | ---: | ---: | --- |")
    for r in rows:
        if "brook" not in r:
            print(f'| {r["target"]} | — | — | — | — | {r["status"]} |')
            continue
        ratio = f'{r["ratio"]:.2f}' if r.get("ratio") is not None else "—"
        need = r.get("needed") if r.get("needed") is not None else r.get("absolute_needed", "—")
        against = (f'{r["against"]} = {fmt(r["against_value"], r["unit"])}'
                   if "against" in r else "—")
        print(f'| {r["target"]} | {fmt(r["brook"], r["unit"])} {r["unit"]} | {against} | '
              f'{ratio} | {need} | {r["status"]} |')
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"),
                       "host": platform.node(), "cpus": os.cpu_count(),
                       "figures": figs, "targets": rows}, f, indent=1)
        print(f"\nreport: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
