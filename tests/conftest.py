"""Fixtures shared by the test modules; helpers that are not fixtures live in tests/support/."""

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tacotron.config import load_config

from support.overrides import FAST_OVERRIDES
from support.postgres import find_postgres_bin, user_exists


@pytest.fixture(scope="session")
def corpus_en(tmp_path_factory):
    """A 16-utterance eSpeak corpus (made once per test session, ~1 s)."""
    from tacotron.data.corpus import make_corpus

    return make_corpus("en", tmp_path_factory.mktemp("corpus") / "en", count=16, progress=False)


@pytest.fixture()
def fast_config():
    def build(*extra: str):
        return load_config("cpu-tiny", overrides=[*FAST_OVERRIDES, *extra])

    return build


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on loopback for this test session (`.ci/run` installs the
    Debian packages when missing); yields an SQLAlchemy URL of an empty database."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs it: apt-get install postgresql)")
    if not any(importlib.util.find_spec(driver) for driver in ("psycopg", "psycopg2")):
        pytest.skip("no PostgreSQL driver: pip install 'psycopg[binary]' (in the test extra)")
    # Not under pytest's tmp folders: they are private to root, and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="tacotron-postgres-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        user = "postgres" if user_exists("postgres") else "nobody"
        entry = pwd.getpwnam(user)
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                    "-A", "trust", "--no-sync"], check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = root / "server.log"
    try:
        # -w: pg_ctl returns once the server accepts connections (or fails, its log says why).
        started = subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                  "-w", "-t", "30", "-o",
                                  f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off", "start"],
                                 capture_output=True)
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}")
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                        "postgres", "tacotron_test"], check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/tacotron_test"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

