"""Finding PostgreSQL's server programs and the user to run them as (conftest's postgres_url)."""

import glob
import pwd
import shutil
from pathlib import Path


def find_postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
