"""The examples, built as an outside project against an installed brook and
run: each must exit 0 and print a summary in which nothing was lost,
duplicated or delivered out of order.

    BROOK_PREFIX=<install prefix of brook> /usr/bin/python3 -m pytest -q tests/examples

BROOK_PREFIX is where `cmake --install` put brook (required: the point is to
build the way a user does, with find_package(brook) from that prefix).
BROOK_EXAMPLES_BUILD (optional) is the build directory to use; default, a
temporary one. scripts/test.sh --release runs this.
"""
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PREFIX = os.environ.get("BROOK_PREFIX")

# Each example finishes in a few seconds; this bounds a hung one.
RUN_TIMEOUT = 90

pytestmark = pytest.mark.skipif(
    not PREFIX, reason="set BROOK_PREFIX to an install prefix of brook (cmake --install)")


@pytest.fixture(scope="session")
def bin_dir(tmp_path_factory):
    build = os.environ.get("BROOK_EXAMPLES_BUILD") or str(tmp_path_factory.mktemp("examples-build"))
    configure = subprocess.run(
        ["cmake", "-S", str(ROOT / "examples"), "-B", build, f"-DCMAKE_PREFIX_PATH={PREFIX}"],
        capture_output=True, text=True, timeout=300)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    jobs = os.environ.get("JOBS", "2")
    compiled = subprocess.run(["cmake", "--build", build, f"-j{jobs}"],
                              capture_output=True, text=True, timeout=900)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    # Warnings in an example would be warnings in every newcomer's first build.
    assert "warning:" not in compiled.stdout + compiled.stderr, compiled.stdout + compiled.stderr
    return pathlib.Path(build)


def env():
    e = dict(os.environ)
    # A shared libbrook from the prefix (a static one needs nothing).
    e["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(pathlib.Path(PREFIX) / "lib"), e.get("LD_LIBRARY_PATH")) if p)
    return e


def run(bin_dir, name, *args):
    proc = subprocess.run([str(bin_dir / name), *map(str, args)], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, env=env())
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def counts(out, word):
    """Every `<word>: N` line of a summary, as numbers."""
    return [int(n) for n in re.findall(rf"^\s*{word}: (\d+)\s*$", out, re.M)]


def assert_clean(out, groups, delivered):
    """`groups` summaries, each delivering `delivered` records, none lost,
    duplicated or out of order, and the overall result OK."""
    assert counts(out, "lost") == [0] * groups, out
    assert counts(out, "duplicates") == [0] * groups, out
    assert counts(out, "out of order") == [0] * groups, out
    assert counts(out, "expected")[:groups] == [delivered] * groups, out
    assert "unexpected:" not in out, out
    assert out.rstrip().endswith("result: OK"), out


def test_journal_demo(bin_dir, tmp_path):
    out = run(bin_dir, "journal_demo", tmp_path / "journal")
    assert "read 100000, damaged or misplaced 0: OK" in out, out


def test_demo_billing_gets_every_missed_order_once(bin_dir, tmp_path):
    out = run(bin_dir, "demo", tmp_path)
    assert_clean(out, 1, 3000)
    assert counts(out, "delivered") == [3000], out
    assert "replayed the 1000 orders it missed" in out, out


def test_daemon_event_loop(bin_dir, tmp_path):
    out = run(bin_dir, "daemon_event_loop", "--records", 300, tmp_path)
    assert_clean(out, 1, 300)
    assert "published: 300 ticks" in out, out
    assert counts(out, "delivered") == [300], out
    assert "lag at the end: 0 records" in out, out


def test_daemon_event_loop_stops_cleanly_on_sigterm(bin_dir, tmp_path):
    proc = subprocess.Popen([str(bin_dir / "daemon_event_loop"), "--records", "1000000",
                             "--seconds", "60", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    try:
        # Stop it once it has published (its journal exists and has grown).
        deadline = time.monotonic() + 30
        data = tmp_path / "journal" / "data.mdb"
        while time.monotonic() < deadline and (not data.exists() or data.stat().st_size < 100_000):
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert "signal 15: stopping" in out, out
    published = int(re.search(r"published: (\d+) ticks", out).group(1))
    assert 0 < published < 1000000, out
    assert_clean(out, 1, published)


def test_fan_in_checks_each_producer(bin_dir, tmp_path):
    out = run(bin_dir, "fan_in", tmp_path)
    assert_clean(out, 3, 1000)
    assert counts(out, "delivered") == [1000] * 3, out
    for sensor in ("sensor-a", "sensor-b", "sensor-c"):
        assert f"  {sensor}\n" in out, out


def test_secure_pair_admits_only_the_allowed_key(bin_dir, tmp_path):
    out = run(bin_dir, "secure_pair", tmp_path)
    assert_clean(out, 1, 1000)
    # billing's summary, then the intruder's: every record, then none.
    assert counts(out, "delivered") == [1000, 0], out
    failed = counts(out, "handshakes_failed")
    assert len(failed) == 1 and failed[0] > 0, out
    assert "refused this consumer's key" in out, out
    # The secret key files are the owner's alone.
    for name in ("shop", "billing", "intruder"):
        assert (tmp_path / "keys" / f"{name}.key").stat().st_mode & 0o077 == 0


def test_examples_refuse_bad_arguments(bin_dir):
    proc = subprocess.run([str(bin_dir / "daemon_event_loop"), "--records"], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT, env=env())
    assert proc.returncode != 0 and "usage:" in proc.stderr
