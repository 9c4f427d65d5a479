"""brook consume --group: runs of one group share a node's partitions, each
record printed by one of them once, with "assigned"/"revoked" event lines in
--json; SIGTERM ends them cleanly; the usage errors of --group."""
import json
import signal
import subprocess
import time

from conftest import CLI, run, wait_for
from nodes import LineReader, node_args, start_producer

PARTITIONS = 4


class Run:
    """A `brook consume --group` process and what it printed so far."""

    def __init__(self, cli_proc):
        self.proc = cli_proc
        self.reader = LineReader(cli_proc.stdout)

    def lines(self):
        with self.reader._lock:
            return [json.loads(l) for l in self.reader.lines]

    def held(self):
        """Partitions held now, by its assigned/revoked lines."""
        held = set()
        for l in self.lines():
            if l.get("event") == "assigned":
                held.add(l["partition"])
            elif l.get("event") == "revoked":
                held.discard(l["partition"])
        return held

    def records(self):
        return [l for l in self.lines() if "event" not in l]


def test_two_runs_of_a_group_split_the_records(cli, tmp_path, brook_py):
    with start_producer(brook_py, tmp_path / "j", heartbeat_interval=0.05) as p:
        p.create_topic("t", partitions=PARTITIONS)
        published = {}

        def publish(prefix, first, n):
            for part in range(PARTITIONS):
                payloads = [f"{prefix}{part}:{o}" for o in range(first, first + n)]
                for at, payload in zip(p.publish_batch("t", payloads, partition=part), payloads):
                    assert at == (part, int(payload.split(":")[1])), at
                    published[at] = payload

        publish("a", 0, 20)
        args = [CLI, "consume", "t", *node_args(p), "--group", "g", "--follow", "--json"]
        runs = []
        try:
            for _ in range(2):
                runs.append(Run(subprocess.Popen(args, stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE)))
            # Settled: both hold partitions, together all of them, none twice.
            def settled():
                a, b = runs[0].held(), runs[1].held()
                return a and b and not (a & b) and len(a | b) == PARTITIONS
            wait_for(settled, timeout=30, what="the partitions spread over both runs")
            owners = {part: i for i, r in enumerate(runs) for part in r.held()}
            publish("b", 20, 30)
            wait_for(lambda: sum(len(r.records()) for r in runs) >= len(published), timeout=30,
                     what="every record printed")
            time.sleep(0.3)  # nothing more comes: no record twice
            for r in runs:
                r.proc.send_signal(signal.SIGTERM)
            for r in runs:
                assert r.proc.wait(timeout=20) == 0, r.proc.stderr.read()
            got = {}
            for i, r in enumerate(runs):
                r.reader.join()
                for rec in r.records():
                    at = (rec["partition"], rec["offset"])
                    assert at not in got, f"{at} printed twice"
                    got[at] = rec["payload"]
                    # After settling, a partition's records come from its holder.
                    if rec["offset"] >= 20:
                        assert owners[rec["partition"]] == i, at
                for l in r.lines():
                    if "event" in l:
                        assert l["event"] in ("assigned", "revoked"), l
                        assert l["topic"] == "t" and "from" in l and "message" in l, l
            assert got == published
            assert all(r.records() for r in runs)  # split between them
        finally:
            for r in runs:
                if r.proc.poll() is None:
                    r.proc.kill()
                r.proc.wait()


def test_group_usage_errors(cli, tmp_path):
    node = ["--pub", "tcp://127.0.0.1:1", "--replay", "tcp://127.0.0.1:1"]
    for args in (["t", *node, "--group", "g"],  # no end to stop at
                 ["t", *node, "--group", "g", "--exit-at-end", "--count", "3"],
                 ["t", *node, "--group", "g", "--count", "3", "--timeout", "1s"],
                 ["t", *node, "--group", "g", "--follow", "--name", "n"],
                 ["t", *node, "--group", "", "--follow"]):
        r = run("consume", *args, check=2)
        assert "usage: brook consume" in r.errtext, args
        assert "--group" in r.errtext, args
    r = run("consume", "--help", check=0)
    assert "--group NAME" in r.text and "assigned" in r.text and "revoked" in r.text
