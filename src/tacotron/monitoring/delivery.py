"""Background delivery for network sinks (Telegram, MLflow): the training thread only appends a
job to a bounded queue; one worker thread per sink sends it, retrying with exponential backoff.

A sink whose server is down or whose credentials are wrong therefore never blocks or slows the
training loop: it logs one warning per outage (secrets redacted), keeps retrying in the
background, and past `queue_size` waiting jobs drops the oldest (counted in `dropped`).
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

logger = logging.getLogger("tacotron.monitor")

MAX_BACKOFF_SECONDS = 300.0
# The worker thread runs at a lower CPU priority (Linux: nice is per thread), so encoding and
# sending uses cores the training loop leaves idle rather than taking them from it. (Media are
# rendered in the training thread: see monitoring/media.py.)
WORKER_NICENESS = 10


class PermanentError(Exception):
    """Retrying cannot help (e.g. HTTP 400/401/403/404: bad token, unknown chat)."""


class RetryAfter(Exception):
    """The server asked to wait (HTTP 429 with retry_after) before the next attempt."""

    def __init__(self, seconds: float, message: str = ""):
        super().__init__(message or f"retry after {seconds:g} s")
        self.seconds = seconds


@dataclass
class Job:
    description: str  # e.g. "sendPhoto step 300", for warnings
    action: Callable[[], object]


def never_raises(method):
    """For a sink's callback hooks: a bug or an outage in a sink is logged once, never raised
    into the training loop."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            redact = getattr(self, "redact", lambda text: text)
            if not getattr(self, "_warned_hook_error", False):
                self._warned_hook_error = True
                logger.warning("%s.%s failed (%s); training goes on", type(self).__name__,
                               method.__name__, redact(f"{type(error).__name__}: {error}"))
            return None

    return guarded


def backoff_seconds(attempt: int, base: float) -> float:
    """Wait before retry number `attempt` (1, 2, ...): min(base * 2**(attempt-1), 300 s)."""
    return min(base * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)


class DeliveryWorker:
    def __init__(self, name: str, queue_size: int, attempts: int, backoff: float,
                 redact: Callable[[str], str] = lambda text: text):
        """`queue_size`, `attempts`, `backoff`: monitor.queue_size, retry_attempts and
        retry_backoff_seconds (config.py, where their defaults live)."""
        self.name = name
        self.queue_size = queue_size
        self.attempts = attempts
        self.backoff = backoff
        self.redact = redact
        self.jobs: collections.deque[Job] = collections.deque()
        self.condition = threading.Condition()
        self.thread: threading.Thread | None = None
        self.closing = False
        self.deadline = float("inf")
        self.failing = False  # the last attempt failed: one warning per outage
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self.run, name=f"tacotron-{self.name}",
                                           daemon=True)
            self.thread.start()

    def submit(self, description: str, action: Callable[[], object]) -> None:
        """Queue a job; never blocks. Past `queue_size` waiting jobs the oldest is dropped."""
        with self.condition:
            if self.closing:
                return
            self.jobs.append(Job(description, action))
            while len(self.jobs) > self.queue_size:
                self.jobs.popleft()
                self.dropped += 1
            self.condition.notify()
        self.start()

    def close(self, timeout: float) -> None:
        """Deliver what is queued within `timeout` seconds, then stop (what is left is dropped).
        While the sink is failing, each job left gets one attempt and no backoff."""
        with self.condition:
            self.closing = True
            self.deadline = time.monotonic() + timeout
            self.condition.notify_all()
        if self.thread is not None:
            self.thread.join(timeout + 1.0)
        with self.condition:
            self.dropped += len(self.jobs)
            self.jobs.clear()
        if self.dropped or self.failed:
            logger.warning("%s: %d message(s) delivered, %d failed, %d dropped", self.name,
                           self.delivered, self.failed, self.dropped)

    def run(self) -> None:
        try:
            thread_id = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread_id,
                           min(19, os.getpriority(os.PRIO_PROCESS, thread_id) + WORKER_NICENESS))
        except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
            pass
        while True:
            with self.condition:
                while not self.jobs and not self.closing:
                    self.condition.wait()
                if not self.jobs or time.monotonic() >= self.deadline:
                    return
                job = self.jobs.popleft()
            self.deliver(job)

    def deliver(self, job: Job) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                job.action()
            except PermanentError as error:
                self.warn(job, error, retrying=False)
                self.failed += 1
                return
            except Exception as error:  # network down, server error: retry later
                self.warn(job, error, retrying=attempt < self.attempts)
                if attempt == self.attempts or not self.wait_before_retry(attempt, error):
                    self.failed += 1
                    return
            else:
                if self.failing:
                    logger.warning("%s: delivering again", self.name)
                self.failing = False
                self.delivered += 1
                return

    def wait_before_retry(self, attempt: int, error: Exception) -> bool:
        """Sleep the backoff (interrupted by close); False when no retry should follow."""
        delay = error.seconds if isinstance(error, RetryAfter) else backoff_seconds(attempt,
                                                                                     self.backoff)
        with self.condition:
            if self.closing:
                return False  # closing while failing: one attempt per job left
            self.condition.wait(delay)
            return not self.closing and time.monotonic() < self.deadline

    def warn(self, job: Job, error: Exception, retrying: bool) -> None:
        if self.failing:
            return
        self.failing = True
        what = "retrying in the background" if retrying else "giving up on it"
        logger.warning("%s: %s failed (%s); %s, training goes on", self.name,
                       job.description, self.redact(f"{type(error).__name__}: {error}"), what)
