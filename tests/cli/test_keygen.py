"""brook keygen: key files, their modes, --force, --print."""
import os
import stat

from conftest import run

# The Z85 alphabet (ZeroMQ RFC 32).
Z85 = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


def key_in(path):
    lines = [l for l in open(path).read().splitlines() if l and not l.startswith("#")]
    assert len(lines) == 1, lines
    return lines[0]


def is_key(k):
    return len(k) == 40 and set(k) <= Z85


def test_writes_a_key_pair_with_private_secret(cli, tmp_path):
    pub = tmp_path / "node.key"
    old = os.umask(0)  # the secret must be 0600 whatever the umask
    try:
        r = run("keygen", pub, check=0)
    finally:
        os.umask(old)
    secret = tmp_path / "node.key.secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pub).st_mode) == 0o644
    public_key = key_in(pub)
    assert is_key(public_key) and is_key(key_in(secret))
    assert public_key != key_in(secret)
    assert public_key in r.text and str(pub) in r.text and str(secret) in r.text
    # The secret is never printed when files are written.
    assert key_in(secret) not in r.text + r.errtext


def test_json_names_the_files(cli, tmp_path):
    pub = tmp_path / "c.key"
    [obj] = run("keygen", pub, "--json", check=0).json_lines()
    assert obj == {"public_key": key_in(pub), "public_file": str(pub),
                   "secret_file": str(pub) + ".secret"}


def test_refuses_to_overwrite_without_force(cli, tmp_path):
    pub = tmp_path / "node.key"
    run("keygen", pub, check=0)
    before = (key_in(pub), key_in(str(pub) + ".secret"))
    r = run("keygen", pub, check=1)
    assert "already exists" in r.errtext and "--force" in r.errtext
    assert (key_in(pub), key_in(str(pub) + ".secret")) == before
    # Only the secret file left behind counts too: nothing is written.
    os.unlink(pub)
    r = run("keygen", pub, check=1)
    assert str(pub) + ".secret" in r.errtext
    assert not pub.exists()
    run("keygen", pub, "--force", check=0)
    assert key_in(pub) != before[0] and key_in(str(pub) + ".secret") != before[1]
    assert stat.S_IMODE(os.stat(str(pub) + ".secret").st_mode) == 0o600


def test_print_shows_both_keys_and_warns(cli, tmp_path):
    r = run("keygen", "--print", check=0)
    lines = dict(l.split(": ", 1) for l in r.text.splitlines())
    assert set(lines) == {"public", "secret"}
    assert is_key(lines["public"]) and is_key(lines["secret"])
    assert "secret" in r.errtext and "warning" in r.errtext
    [obj] = run("keygen", "--print", "--json", check=0).json_lines()
    assert set(obj) == {"public_key", "secret_key"} and is_key(obj["secret_key"])
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(cli, tmp_path):
    assert "PUBLIC_FILE" in run("keygen", check=2).errtext
    run("keygen", "--print", tmp_path / "x", check=2)
    run("keygen", "--print", "--force", check=2)
    run("keygen", tmp_path / "a", tmp_path / "b", check=2)
    run("keygen", "--bogus", check=2)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_directory_fails_clearly(cli, tmp_path):
    r = run("keygen", tmp_path / "missing" / "node.key", check=1)
    assert "missing" in r.errtext


def test_help(cli):
    r = run("keygen", "--help", check=0)
    assert "usage: brook keygen" in r.text and "--force" in r.text and "--print" in r.text
