"""What several test modules share and is not a fixture (conftest.py holds the fixtures): import
from the defining module, e.g. `from support.overrides import FAST_OVERRIDES`. pytest puts tests/
on sys.path (rootdir conftest, no tests/__init__.py), so `support` is found as a package there.
Test fixtures a benchmark also needs (a synthetic book, an untrained voice) live here too; the
benchmark puts tests/ on sys.path. Nothing under src/ imports them (tests/test_layout.py)."""
