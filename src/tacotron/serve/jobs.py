"""The bounded queue and the fixed synthesis threads behind every request.

Synthesis keeps the CPU (or GPU) busy, so requests do not each get a thread: they wait in a queue
of `serve.queue_size` for one of `serve.workers` threads, and a request that finds the queue full
is refused at once (503). A job's work is a generator (one item per segment): between items the
thread checks whether the job was cancelled (its client left, or its time ran out) and drops the
rest of the work.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from tacotron.serve.memory import release_free_memory

ITEM, DONE, FAILED = "item", "done", "failed"


class QueueFull(Exception):
    """Every worker is busy and the queue is full."""


class JobTimeout(Exception):
    """The job's deadline passed before it finished."""


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


class Job:
    """One request's work: `work()` returns a generator whose items reach the event loop as the
    worker makes them."""

    def __init__(self, work: Callable[[], Iterator[Any]], loop: asyncio.AbstractEventLoop):
        self.work = work
        self.loop = loop
        self.items: asyncio.Queue = asyncio.Queue()
        self.cancelled = threading.Event()
        self.started: float | None = None  # when a worker took it (time.monotonic)
        self.on_cancel: Callable[[Job], None] = lambda job: None  # the queue's, once submitted

    def cancel(self) -> None:
        self.cancelled.set()
        self.on_cancel(self)

    def deliver(self, kind: str, value: Any = None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.items.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is closed: the server is shutting down
            self.cancel()

    async def results(self, deadline: float, disconnected: asyncio.Future | None = None
                      ) -> AsyncIterator[Any]:
        """The work's items as they come. `deadline` (event-loop time) passing raises JobTimeout,
        `disconnected` completing raises ClientGone; either cancels the job."""
        loop = asyncio.get_running_loop()
        while True:
            getting = asyncio.ensure_future(self.items.get())
            waiting = {getting} | ({disconnected} if disconnected is not None else set())
            done, _ = await asyncio.wait(waiting, timeout=max(0.0, deadline - loop.time()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                self.cancel()
                if disconnected is not None and disconnected in done:
                    raise ClientGone()
                raise JobTimeout()
            kind, value = getting.result()
            if kind == DONE:
                return
            if kind == FAILED:
                raise value
            yield value


class SynthesisQueue:
    """`workers` threads serving jobs from a queue of at most `queue_size` waiting jobs."""

    def __init__(self, workers: int, queue_size: int,
                 on_queue_length: Callable[[int], None] = lambda length: None,
                 on_busy: Callable[[int], None] = lambda busy: None,
                 on_dropped: Callable[[], None] = lambda: None):
        self.capacity = workers + queue_size  # jobs being worked on plus jobs waiting
        self._waiting: queue.Queue = queue.Queue()
        self._pending = 0  # submitted and not yet finished
        self._busy = 0  # workers running a job
        self._lock = threading.Lock()
        self._on_queue_length = on_queue_length
        self._on_busy = on_busy
        self._on_dropped = on_dropped
        self._threads = [threading.Thread(target=self._serve, name=f"tacotron-synthesis-{number}",
                                          daemon=True) for number in range(workers)]
        for thread in self._threads:
            thread.start()

    @property
    def waiting(self) -> int:
        return self._waiting.qsize()

    def submit(self, job: Job) -> None:
        """Queue `job`, or raise QueueFull when every worker is busy and the queue is full."""
        with self._lock:
            if self._pending >= self.capacity:
                raise QueueFull()
            self._pending += 1
            job.on_cancel = self._give_back_place
            self._waiting.put(job)
        self._on_queue_length(self._waiting.qsize())

    def _give_back_place(self, job: Job) -> None:
        """A job cancelled while it waits (its client left) frees its place at once: otherwise
        clients that left would keep refusing new ones until a worker reached their jobs."""
        with self._lock:
            if job.started is None:
                job.started = time.monotonic()  # never to be run: the worker only drops it
                self._pending -= 1

    def close(self) -> None:
        """Stop the threads once they finish their current job (waiting jobs are dropped)."""
        while True:
            try:
                job = self._waiting.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
        for _ in self._threads:
            self._waiting.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    def _serve(self) -> None:
        while True:
            job = self._waiting.get()
            if job is None:
                return
            self._on_queue_length(self._waiting.qsize())
            with self._lock:
                if job.started is not None:  # cancelled while it waited; its place is given back
                    self._on_dropped()
                    continue
                job.started = time.monotonic()
                self._busy += 1
                self._on_busy(self._busy)
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._busy -= 1
                    self._on_busy(self._busy)
                # The job's tensors go back to the system, not into the heap's reserve (memory.py).
                release_free_memory()

    def _run(self, job: Job) -> None:
        if job.cancelled.is_set():  # cancelled as a worker took it: nothing was done
            self._on_dropped()
            return
        items = job.work()
        try:
            for item in items:
                if job.cancelled.is_set():
                    self._on_dropped()
                    return
                job.deliver(ITEM, item)
            job.deliver(DONE)
        except Exception as error:  # delivered to the request, which answers it
            job.deliver(FAILED, error)
        finally:
            items.close()
