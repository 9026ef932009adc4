"""File writes that survive an interruption (Ctrl-C, a crash, kill -9) and a full disk. Every file
the toolkit writes goes through here:
- `atomic_write`/`atomic_write_text` replace a whole file (temp file, fsync, rename): a reader
  sees the old file or the new one, never half of one (checkpoints, config.yaml, progress.json);
- `atomic_copy` does the same with another file's bytes (a hard link where it can);
- `append_line`/`append_lines` add lines to a log (metrics.jsonl, events.jsonl, dataset make's
  recognized clips) in a single write to a file opened for appending: lines never interleave,
  earlier lines are never touched, and a crash can leave at most an incomplete last line, which
  the readers skip and the next append ends. Appends are not atomic.

A full disk (ENOSPC, or EDQUOT: a quota) is raised as `DiskFull`, a UserError naming the file:
the old file is untouched, the temp file is removed, and the command that was writing stops with
one line saying to free space and run it again. Every command resumes from what it had finished.

A temp file is named `.NAME.PID.RANDOM.tmp`; one left behind by a writer that was killed (kill -9,
power loss) is removed by `remove_stale_temp_files`, which the commands that write many files
call on their folders when they start."""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from tacotron.errors import UserError

# The errors of a disk (or a user's quota) with no room left.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
TEMP_PATTERN = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")
# Characters of a file's name kept in its temp file's name: a name near the file system's limit
# (255 bytes) must still leave room for the pid, the random part and ".tmp" (at most 4 bytes a character).
TEMP_NAME_CHARS = 40


def _temp_prefix(path: Path) -> str:
    return f".{path.name[:TEMP_NAME_CHARS]}.{os.getpid()}."


class DiskFull(UserError):
    """No space left on the device (or quota) while writing `path`; what was there before stays."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.path = path

    def __reduce__(self):  # crosses process boundaries (prepare's worker pool) intact
        return type(self), (str(self), self.path)


def disk_full(path: str | Path, error: OSError) -> DiskFull:
    return DiskFull(f"disk full while writing {path}: {error.strerror or error}; the files written "
                    f"before are intact: free space on that disk and run the same command to resume",
                    str(path))


def _no_space(error: BaseException | None) -> OSError | None:
    """The ENOSPC/EDQUOT OSError that caused `error` (itself, or one it was raised from: torch and
    libsndfile turn their writer's OSError into a RuntimeError of their own), or None."""
    seen = 0
    while error is not None and seen < 16:
        if isinstance(error, OSError) and error.errno in NO_SPACE:
            return error
        error = error.__cause__ or error.__context__
        seen += 1
    return None


class _Recording:
    """A binary file that remembers the OSError a write raised: libraries that wrap the file in
    writers of their own (torch.save, soundfile) report a failed write as their own error without
    its errno, which is what tells a full disk from any other failure."""

    def __init__(self, handle: BinaryIO):
        self._handle = handle
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._handle.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        try:
            self._handle.flush()
        except OSError as error:
            self.error = error
            raise

    def __getattr__(self, name: str):
        return getattr(self._handle, name)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call write(file) on a temp file in the same folder, fsync it, then rename it over `path`.
    A full disk raises DiskFull (the old `path` untouched, the temp file removed)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as error:
        if error.errno in NO_SPACE:
            raise disk_full(path, error) from None
        raise
    recording = None
    try:
        with os.fdopen(fd, "wb") as handle:
            recording = _Recording(handle)
            write(recording)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException as error:
        Path(temp).unlink(missing_ok=True)
        full = _no_space(error) or (recording.error if recording is not None and
                                    recording.error is not None and recording.error.errno in NO_SPACE
                                    else None)
        if full is not None:
            raise disk_full(path, full) from None
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_copy(source: str | Path, path: str | Path) -> None:
    """Make `path` hold `source`'s bytes, replacing it atomically: a hard link where the file system
    has them (no second copy on disk, nothing to write: a file's replacement is always a rename,
    so the link never writes through), else a copy through atomic_write."""
    source, path = Path(source), Path(path)
    temp = path.with_name(f"{_temp_prefix(path)}link.tmp")
    try:
        temp.unlink(missing_ok=True)
        os.link(source, temp)
        os.replace(temp, path)
        return
    except OSError as error:
        temp.unlink(missing_ok=True)
        if error.errno in NO_SPACE:
            raise disk_full(path, error) from None
    with open(source, "rb") as reader:
        atomic_write(path, lambda handle: shutil.copyfileobj(reader, handle, 1 << 20))


def append_line(path: str | Path, line: str) -> None:
    """Append `line` plus a newline to a log file in one write (see the module docstring)."""
    append_lines(path, [line])


def append_lines(path: str | Path, lines: list[str], sync: bool = False) -> None:
    """Append `lines`, each ended by a newline, in one write: a process killed now leaves all of
    them or none. An incomplete last line left by an earlier kill is ended first, so that it spoils
    only itself. `sync`: fsync before returning (what is appended survives a power loss too)."""
    path = Path(path)
    data = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            while data:  # a nearly full disk takes part of a write; the rest then raises ENOSPC
                data = data[os.write(fd, data):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        if error.errno in NO_SPACE:
            raise disk_full(path, error) from None
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temp_files(folder: str | Path) -> int:
    """Remove the temp files of atomic_write in `folder` whose writer is no longer running (it was
    killed mid-write: a checkpoint's can be hundreds of MB); returns how many were removed."""
    removed = 0
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in names:
        match = TEMP_PATTERN.match(name)
        if match and not _alive(int(match.group(1))):
            Path(folder, name).unlink(missing_ok=True)
            removed += 1
    return removed
