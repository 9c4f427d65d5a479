"""Fixtures for the `brook` command-line tests: the CLI runs as a process
against real journals (temporary directories) and real nodes on 127.0.0.1.

BROOK_CLI names the binary (default: build/tools/brook). Producers and
consumers on the other side come from the Python bindings (PYTHONPATH must
reach the built `brook` module) or from `brook node` itself.
"""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = os.environ.get("BROOK_CLI", str(ROOT / "build" / "tools" / "brook"))

# Every CLI run in a test is bounded in time.
DEFAULT_TIMEOUT = 60


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def errtext(self) -> str:
        return self.err.decode("utf-8", "replace")

    def json_lines(self):
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def __repr__(self):
        return f"Result(code={self.code}, out={self.out[:2000]!r}, err={self.err[:2000]!r})"


def run(*args, input=None, timeout=DEFAULT_TIMEOUT, check=None):
    """Runs `brook ARGS...`; `input` (str or bytes) goes to its stdin.
    check=0 (or any code) asserts the exit code."""
    if isinstance(input, str):
        input = input.encode()
    proc = subprocess.run([CLI, *map(str, args)], input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    r = Result(proc)
    if check is not None:
        assert r.code == check, r
    return r


def spawn(*args, **kwargs):
    """Starts `brook ARGS...` in the background (stdout and stderr piped)."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([CLI, *map(str, args)], **kwargs)


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def cli():
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"the brook CLI is not built at {CLI} (set BROOK_CLI)")
    return CLI


@pytest.fixture
def brook_py():
    """The Python bindings, for producers and consumers on the other side."""
    try:
        import brook  # noqa: F401
    except ImportError as e:  # the suite must not pass by skipping
        pytest.fail(f"the brook Python module is not importable ({e}); set PYTHONPATH")
    return brook
