#!/usr/bin/env python3
"""Prints the fault suite's table from fault_harness --json files (one or
more, e.g. the parts scripts/fault.sh ran at once), as text and Markdown."""
import json
import sys

COLUMNS = [("fault", "fault"), ("rounds", "rounds"), ("failed_rounds", "failed rounds"),
           ("published", "published"),
           ("acknowledged", "acknowledged"), ("delivered", "delivered"), ("lost", "lost"),
           ("duplicated", "duplicated"), ("reordered", "reordered"),
           ("unexpected", "unexpected"), ("inconsistent", "inconsistent"),
           ("violations", "other failures"), ("seconds", "seconds")]


def main(paths):
    rows, seeds, modes = [], set(), set()
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        seeds.add(doc["seed"])
        modes.add("long" if doc["long"] else "short")
        for fault in doc["faults"]:
            fault["violations"] += fault.get("loss_events", 0)
            fault["seconds"] = round(fault["seconds"])
            rows.append(fault)
    order = {"checker_selftest": 0}
    rows.sort(key=lambda r: order.get(r["fault"], 1))
    widths = [max(len(title), *(len(str(r[key])) for r in rows)) for key, title in COLUMNS]
    line = "  ".join(title.rjust(w) if i else title.ljust(w)
                     for i, ((key, title), w) in enumerate(zip(COLUMNS, widths)))
    print(line)
    for r in rows:
        print("  ".join(str(r[key]).rjust(w) if i else str(r[key]).ljust(w)
                        for i, ((key, _), w) in enumerate(zip(COLUMNS, widths))))
    total_failures = sum(r[k] for r in rows
                         for k in ("lost", "duplicated", "reordered", "unexpected",
                                   "inconsistent", "violations"))
    not_run = [r["fault"] for r in rows if r.get("not_run")]
    print(f"\nseed {', '.join(map(str, sorted(seeds)))}, {', '.join(sorted(modes))} version: "
          + ("every count that must be 0 is 0" if total_failures == 0
             else f"{total_failures} failures"))
    if not_run:
        print("some rounds not run (see the logs): " + ", ".join(not_run))
    print("\nMarkdown:\n")
    print("| " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|")
    for r in rows:
        print("| " + " | ".join(f"`{r[key]}`" if key == "fault" else f"{r[key]:,}"
                                if isinstance(r[key], int) else str(r[key])
                                for key, _ in COLUMNS) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: table.py RESULTS.json...")
    main(sys.argv[1:])
