"""Producers on 127.0.0.1 for the client commands' tests (consume, describe):
how to start one, and the command-line options that name it."""
import contextlib
import os
import socket
import threading

from conftest import spawn


def key_in(path):
    """The one key of a key file written by `brook keygen`."""
    lines = [l for l in open(path).read().splitlines() if l and not l.startswith("#")]
    assert len(lines) == 1, lines
    return lines[0]


def free_udp_port():
    """A UDP port nothing on 127.0.0.1 holds now, for a discovery cluster of
    one test."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_producer(brook_py, directory, **kwargs):
    return brook_py.Producer(str(directory), pub_endpoint="tcp://127.0.0.1:0",
                             replay_endpoint="tcp://127.0.0.1:0", durability="nosync", **kwargs)


def node_args(producer):
    return ["--pub", producer.pub_endpoint, "--replay", producer.replay_endpoint]


def write_config(path, producer, server_key=None):
    """A `brook node` config file naming this producer's endpoints (and its
    public key file with CURVE), as a client reads it with --config."""
    text = (f"journal = {path}.journal\n"
            f"pub = {producer.pub_endpoint}\n"
            f"replay = {producer.replay_endpoint}\n")
    if server_key:
        text += (f"\n[security]\nserver_key = {server_key}\n"
                 f"allowed_client_keys = {path}.allowed\n")
    with open(path, "w") as f:
        f.write(text)
    return path


class LineReader:
    """Collects a process's stdout lines on a thread, so a test can wait for
    output without blocking on the pipe."""

    def __init__(self, stream):
        self.lines = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for line in stream:
            with self._lock:
                self.lines.append(line)

    def count(self):
        with self._lock:
            return len(self.lines)

    def join(self, timeout=20):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "stdout was not closed"
        return list(self.lines)


def env_with(**values):
    env = dict(os.environ)
    env.update(values)
    return env


@contextlib.contextmanager
def running(*args):
    """`brook ARGS...` in the background, killed at the end if still running."""
    proc = spawn(*args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
