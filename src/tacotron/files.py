"""File writes that survive an interruption (Ctrl-C, a crash, kill -9). Every file the toolkit
writes goes through here:
- `atomic_write`/`atomic_write_text` replace a whole file (temp file, fsync, rename): a reader
  sees the old file or the new one, never half of one (checkpoints, config.yaml, progress.json);
- `append_line` adds one line to a log (metrics.jsonl, events.jsonl) in a single write to a file
  opened for appending: lines never interleave, earlier lines are never touched, and a crash can
  leave at most an incomplete last line, which the readers skip. Appends are not atomic."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call write(file) on a temp file in the same folder, fsync it, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def append_line(path: str | Path, line: str) -> None:
    """Append `line` plus a newline to a log file in one write (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
