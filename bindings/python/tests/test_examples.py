"""examples/python run end to end: the producer publishes 500 orders; the
billing consumer gets them all, and a second run of it gets none again (its
position was kept); the asyncio consumer gets them all too."""
import os
import subprocess
import sys
import time

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "python")


def run(script, *args, **kw):
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), **kw)


def test_examples(tmp_path):
    pub, replay = f"ipc://{tmp_path}/pub", f"ipc://{tmp_path}/replay"
    producer = subprocess.Popen(
        [sys.executable, os.path.join(EXAMPLES, "producer.py"), "--journal",
         str(tmp_path / "shop"), "--pub", pub, "--replay", replay, "--count", "500",
         "--serve", "30"],
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = producer.stdout.readline()
            assert line, "the producer example died"
            if line.startswith("published 500 orders"):
                break
        endpoints = ["--pub", pub, "--replay", replay]
        first = run("consumer.py", "--state", str(tmp_path / "billing"), *endpoints,
                    "--count", "500")
        assert first.returncode == 0, first.stderr
        assert "billed 500 orders" in first.stdout
        again = run("consumer.py", "--state", str(tmp_path / "billing"), *endpoints,
                    "--idle", "1")
        assert again.returncode == 0, again.stderr
        assert "billed 0 orders" in again.stdout
        aio = run("asyncio_consumer.py", *endpoints, "--count", "500")
        assert aio.returncode == 0, aio.stderr
        assert "received 500 orders in asyncio" in aio.stdout
    finally:
        producer.kill()
        producer.wait()
