"""Giving the memory of a finished request back to the system (glibc's malloc_trim).

A synthesis allocates and frees hundreds of MB of tensors. glibc keeps freed heap memory for reuse
instead of returning it, and once a large block is freed it raises its mmap threshold (up to
32 MB), so later large tensors come from the heap too: a server's RSS climbs to the high-water mark
of every thread's heap and stays there, rising again whenever a longer text or another thread
sets a new one. Measured in one process on base-en and the universal HiFi-GAN (25 mixed texts of
the serving soak, benchmarks/serve_load.py): RSS 494 MB after 5 syntheses, 1225 MB after 25, and
585 MB after one malloc_trim; with a trim after every synthesis it stayed at 440-587 MB for the
same CPU time (113 s against 116 s). A fixed mmap threshold (mallopt) held RSS as well but cost
50% more CPU time in page faults, because every large tensor then maps fresh pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util


def _malloc_trim():
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): its allocator is its own business
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Return the heap pages freed so far to the system (glibc); nothing elsewhere."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
