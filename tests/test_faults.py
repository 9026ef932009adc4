"""Faults that lose data: a full disk while writing (a checkpoint, a corpus, prepare's cache,
dataset make's outputs) and kill -9 in the middle of `corpus make`, `prepare` and `dataset make`
(training's own kill -9 test is in test_training.py).

A full disk is made two ways: `small_disk` gives tacotron.files (every write of the toolkit goes
through it) an `os` whose writes fail with ENOSPC past a byte budget, in-process and everywhere;
`tmpfs` mounts a real small file system (needs root; skipped where mount is refused) under the
real command line. After either, what was written before must be intact and loadable, no temp file
may be left, the user gets one line naming the file, and the same command resumes once there is
space, to the same result as a run that was never interrupted.
"""

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from tacotron import files
from tacotron.audio.io import save_wav
from tacotron.config import load_config
from tacotron.files import DiskFull, append_lines, atomic_write, atomic_write_text, remove_stale_temp_files
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.events import read_events

from support.overrides import FAST_OVERRIDES


# ------------------------------------------------------------------ a disk with little space left
class _Disk:
    """`os` as tacotron.files sees it, on a disk with `free` bytes left: a write that does not fit
    fails with ENOSPC (and writes nothing). Removing files gives nothing back."""

    def __init__(self, free: float):
        self.free = free

    def __getattr__(self, name):
        return getattr(os, name)

    def take(self, size: int) -> None:
        if size > self.free:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.free -= size

    def fdopen(self, fd, *args, **kwargs):
        return _DiskFile(os.fdopen(fd, *args, **kwargs), self)

    def write(self, fd, data) -> int:
        self.take(len(data))
        return os.write(fd, data)


class _DiskFile:
    def __init__(self, handle, disk: _Disk):
        self._handle, self._disk = handle, disk

    def write(self, data) -> int:
        self._disk.take(memoryview(data).nbytes)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


@pytest.fixture
def small_disk(monkeypatch):
    """small_disk(free): from now on the toolkit's writes see `free` bytes left; free_space()
    gives the space back."""

    def fill(free: float) -> _Disk:
        disk = _Disk(free)
        monkeypatch.setattr(files, "os", disk)
        return disk

    fill.free_space = lambda: monkeypatch.setattr(files, "os", os)
    return fill


@pytest.fixture
def tmpfs(tmp_path):
    """A real tmpfs mounted for the test, and resize(bytes) to change its size (needs root)."""
    point = tmp_path / "disk"
    point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (mount)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")

    def resize(size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(point)], check=True)

    try:
        yield point, resize
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def used_bytes(point: Path) -> int:
    stats = os.statvfs(point)
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize


def snapshot(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Relative path -> sha1 of every file under `folder` (hidden temp files included)."""
    return {path.relative_to(folder).as_posix(): hashlib.sha1(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()
            and path.relative_to(folder).as_posix() not in skip}


def temp_files(folder: Path) -> list[str]:
    return [path.name for path in folder.rglob("*.tmp")]


def assert_one_line_disk_full(stderr: str, path_part: str) -> None:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "disk full while writing" in lines[0] and path_part in lines[0], lines[0]
    assert "free space" in lines[0] and "run the same command" in lines[0]
    assert "Traceback" not in stderr


def cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tacotron.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"}, **kwargs)


def start_cli(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tacotron.cli", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def kill_when(process: subprocess.Popen, ready, timeout: float = 300.0) -> None:
    """SIGKILL `process` as soon as ready() is true (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"it finished before it could be killed: {process.stderr.read()}"
        assert time.monotonic() < deadline, "no progress in time"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()


# ------------------------------------------------------------------ the writes themselves
WRITERS = {
    "checkpoint": lambda path, value: atomic_write(path, lambda h: torch.save({"w": torch.full((4000,), value)},
                                                                               h)),
    "mel": lambda path, value: atomic_write(path, lambda h: np.save(h, np.full((80, 50), value, np.float32))),
    "wav": lambda path, value: save_wav(path, np.full(8000, value / 10, np.float32), 22050),
    "text": lambda path, value: atomic_write_text(path, f"{value}\n" * 2000),
}


@pytest.mark.parametrize("kind", WRITERS)
def test_a_full_disk_keeps_the_old_file_leaves_no_temp_and_names_the_file(kind, small_disk, tmp_path):
    path = tmp_path / f"out.{kind}"
    WRITERS[kind](path, 1.0)
    before = path.read_bytes()
    small_disk(1000)  # less than any of the new files
    with pytest.raises(DiskFull) as caught:
        WRITERS[kind](path, 2.0)
    message = str(caught.value)
    assert message.startswith(f"disk full while writing {path}: No space left on device")
    assert "free space" in message and "run the same command to resume" in message
    assert caught.value.path == str(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # the temp file is gone
    small_disk.free_space()
    WRITERS[kind](path, 2.0)
    assert path.read_bytes() != before


@pytest.mark.parametrize("kind", WRITERS)
def test_the_same_on_a_real_full_file_system(kind, tmpfs):
    point, resize = tmpfs
    path = point / f"out.{kind}"
    WRITERS[kind](path, 1.0)
    before = path.read_bytes()
    resize(used_bytes(point) + 4096)  # one page left
    with pytest.raises(DiskFull, match=f"disk full while writing {path}: No space left on device"):
        WRITERS[kind](path, 2.0)
    assert path.read_bytes() == before and os.listdir(point) == [path.name]


def test_a_full_disk_in_a_worker_process_reaches_the_parent_whole(tmp_path):
    """prepare computes log-mels in a process pool: the error crosses back pickled."""
    import pickle

    error = files.disk_full(tmp_path / "mels" / "a.npy", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is DiskFull and str(again) == str(error) and again.path == error.path


def test_appends_end_a_half_line_first_and_a_full_disk_appends_nothing(small_disk, tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_bytes(b'{"a": 1}\n{"b": ')  # a run killed in the middle of a line
    append_lines(log, ['{"c": 3}', '{"d": 4}'], sync=True)
    assert log.read_text().splitlines() == ['{"a": 1}', '{"b": ', '{"c": 3}', '{"d": 4}']
    small_disk(5)
    with pytest.raises(DiskFull, match="log.jsonl"):
        append_lines(log, ['{"e": 5}'])
    assert log.read_text().splitlines()[-1] == '{"d": 4}'


def test_the_temp_files_of_a_killed_writer_are_removed_and_no_others(tmp_path):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    names = [f".step_0000004.pt.{dead}.k2j4x9ab.tmp", f".step_0000004.pt.{os.getpid()}.a1b2c3d4.tmp",
             "notes.tmp", "step_0000004.pt"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])


# ------------------------------------------------------------------ training
def train(config, corpus, run_dir):
    from tacotron.data.prepare import prepare
    from tacotron.training.trainer import Trainer

    trainer = Trainer(config, prepare(corpus, config, progress=False), run_dir, progress=False)
    trainer.fit()
    return trainer


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_stops_the_run_and_the_same_run_resumes(corpus_en, fast_config,
                                                                              small_disk, tmp_path):
    # One validation, at step 4: best.pt is step 4's.
    settings = ["train.checkpoint_every_steps=2", "train.val_every_steps=4", "train.keep_last_checkpoints=1"]
    run = tmp_path / "run"
    train(fast_config("train.max_steps=4", *settings), corpus_en, run)
    folder = ckpt.checkpoint_dir(run)
    before = snapshot(folder)
    assert set(before) == {"step_0000004.pt", "step_0000004.yaml", "best.pt", "best.yaml"}
    assert os.path.samefile(folder / "best.pt", folder / "step_0000004.pt")  # a link: no second copy
    # A temp file of a save killed earlier (kill -9) is cleaned up by the next save.
    (folder / ".step_0000006.pt.999999999.abcdefgh.tmp").write_bytes(b"x" * 1000)

    small_disk((folder / "step_0000004.pt").stat().st_size // 2)  # room for logs, not a checkpoint
    with pytest.raises(DiskFull) as caught:
        train(fast_config("train.max_steps=8", *settings), corpus_en, run)
    message = str(caught.value)
    assert f"disk full while writing {folder / 'step_0000006.pt'}" in message
    assert "the run stopped at step 6 and resumes from step_0000004.pt" in message
    assert snapshot(folder) == before  # nothing of the failed save, no temp file, best.pt untouched
    assert ckpt.load_checkpoint(folder / "step_0000004.pt")["step"] == 4
    crash = read_events(run)[-1]
    assert crash.kind == "crash" and "disk full while writing" in crash.fields["error"]

    small_disk.free_space()
    resumed = train(fast_config("train.max_steps=8", *settings), corpus_en, run)
    assert resumed.resumed_from.name == "step_0000004.pt" and resumed.step == 8
    straight = train(fast_config("train.max_steps=8", *settings), corpus_en, tmp_path / "straight")
    for (name, a), (_, b) in zip(straight.task.model.state_dict().items(),
                                 resumed.task.model.state_dict().items()):
        assert torch.equal(a, b), name


@pytest.mark.slow
def test_train_on_a_real_full_disk_says_so_in_one_line_and_resumes(corpus_en, fast_config, tmpfs):
    point, resize = tmpfs
    run = point / "run"
    settings = [*FAST_OVERRIDES, "train.checkpoint_every_steps=2", "train.val_every_steps=100",
                "train.keep_last_checkpoints=1"]
    train(fast_config("train.max_steps=2", *settings[len(FAST_OVERRIDES):]), corpus_en, run)
    size = (ckpt.checkpoint_dir(run) / "step_0000002.pt").stat().st_size
    resize(used_bytes(point) + size // 2)
    command = ["train", "--data", corpus_en, "--out", run, "--preset", "cpu-tiny", *settings,
               "train.max_steps=6"]
    failed = cli(*command)
    assert failed.returncode == 2, failed.stderr
    assert_one_line_disk_full(failed.stderr, "step_0000004.pt")
    assert "resumes from step_0000002.pt" in failed.stderr
    assert [step for step, _ in ckpt.step_checkpoints(run)] == [2] and not temp_files(point)
    assert ckpt.load_checkpoint(ckpt.checkpoint_dir(run) / "step_0000002.pt")["step"] == 2

    resize(64 << 20)
    resumed = cli(*command)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from step_0000002.pt, step 2" in resumed.stderr
    assert json.loads(resumed.stdout)["step"] == 6


# ------------------------------------------------------------------ corpus make
CORPUS_COUNT = 40


def test_corpus_make_on_a_full_disk_keeps_whole_wavs_and_resumes_to_the_same_corpus(small_disk, tmp_path):
    from tacotron.data.corpus import make_corpus

    reference = snapshot(make_corpus("en", tmp_path / "straight", count=CORPUS_COUNT, progress=False))
    out = tmp_path / "corpus"
    small_disk(600_000)  # the lists and a few wavs
    with pytest.raises(DiskFull, match=r"disk full while writing .*\.wav"):
        make_corpus("en", out, count=CORPUS_COUNT, progress=False)
    wavs = sorted((out / "wavs").glob("*.wav"))
    assert 0 < len(wavs) < CORPUS_COUNT and not temp_files(out)
    assert all(soundfile.info(str(path)).frames > 0 for path in wavs)  # each one whole
    assert json.loads((out / "corpus.json").read_text())["complete"] is False
    small_disk.free_space()
    make_corpus("en", out, count=CORPUS_COUNT, progress=False)
    assert snapshot(out) == reference


@pytest.mark.slow
def test_corpus_make_killed_then_rerun_equals_an_uninterrupted_run(tmp_path):
    from tacotron.data.corpus import make_corpus

    out, count = tmp_path / "corpus", 64
    process = start_cli("corpus", "make", "--voice", "espeak", "--count", count, "--out", out)
    kill_when(process, lambda: len(list((out / "wavs").glob("*.wav"))) >= 1)
    assert json.loads((out / "corpus.json").read_text())["complete"] is False
    finished = cli("corpus", "make", "--voice", "espeak", "--count", count, "--out", out)
    assert finished.returncode == 0, finished.stderr
    assert snapshot(out) == snapshot(make_corpus("en", tmp_path / "straight", count=count, progress=False))


# ------------------------------------------------------------------ prepare
@pytest.fixture(scope="module")
def corpus_200(tmp_path_factory):
    from tacotron.data.corpus import make_corpus

    return make_corpus("en", tmp_path_factory.mktemp("corpus") / "en200", count=200, progress=False)


def prepared_snapshot(corpus: Path) -> dict[str, str]:
    return snapshot(corpus / "prepared")


def test_prepare_on_a_full_disk_keeps_a_usable_cache_and_resumes_where_it_stopped(
        corpus_en, small_disk, monkeypatch, tmp_path):
    from tacotron.data import prepare as preparing

    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_en, corpus, ignore=shutil.ignore_patterns("prepared"))
    root = corpus / "prepared"
    preparing.prepare(corpus, load_config("cpu-tiny", overrides=[*FAST_OVERRIDES]), progress=False)
    # Another mel setting: every mel is recomputed, in place.
    config = load_config("cpu-tiny", overrides=[*FAST_OVERRIDES, "data.num_workers=1", "audio.fmax=7000"])
    settings = preparing._mel_settings(config.audio)
    monkeypatch.setattr(preparing, "CACHE_SAVE_SECONDS", 0.0)  # the cache saved after every mel
    small_disk(300_000)  # a few mels
    with pytest.raises(DiskFull, match=r"disk full while writing .*\.npy"):
        preparing.prepare(corpus, config, progress=False)
    cache = json.loads((root / "cache.json").read_text())
    done = [entry_id for entry_id, entry in cache.items() if entry["settings"] == settings]
    assert len(cache) == 16 and 0 < len(done) < 16 and not temp_files(root)
    for entry_id in done:  # every mel the cache has is whole
        assert np.load(root / "mels" / f"{entry_id}.npy").shape[1] == cache[entry_id]["frames"]
    # The old index would point at mels half of which are the new setting's: it is withdrawn.
    assert not (root / "prepared.json").exists()

    small_disk.free_space()
    resumed = preparing.prepare(corpus, config, progress=False)
    assert resumed.mels_computed == 16 - len(done)  # what was cached is not redone
    after = prepared_snapshot(corpus)
    shutil.rmtree(root)
    straight = preparing.prepare(corpus, config, progress=False)
    assert straight.mels_computed == 16
    assert prepared_snapshot(corpus) == after


@pytest.mark.slow
def test_prepare_killed_then_rerun_equals_an_uninterrupted_run(corpus_200, tmp_path):
    from tacotron.data.prepare import prepare

    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_200, corpus, ignore=shutil.ignore_patterns("prepared"))
    mels = corpus / "prepared" / "mels"
    process = start_cli("prepare", corpus, "data.num_workers=1")
    kill_when(process, lambda: mels.is_dir() and len(os.listdir(mels)) >= 20)
    assert len(list(mels.glob("*.npy"))) < 200 and not (corpus / "prepared" / "prepared.json").exists()
    finished = cli("prepare", corpus, "data.num_workers=1")
    assert finished.returncode == 0, finished.stderr
    after = prepared_snapshot(corpus)
    assert sum(name.startswith("mels/") for name in after) == 200
    shutil.rmtree(corpus / "prepared")
    prepare(corpus, load_config(overrides=["data.num_workers=1"]), progress=False)
    assert prepared_snapshot(corpus) == after


# ------------------------------------------------------------------ dataset make
@pytest.fixture(scope="module")
def book(tmp_path_factory):
    from support.synthetic_book import write_test_book

    folder = tmp_path_factory.mktemp("book")
    write_test_book("en", 6, folder)
    return folder


def dataset_snapshot(out: Path) -> dict:
    """Everything dataset make wrote, less the timings (report.json's, report.html's speed line)."""
    found = snapshot(out, skip=("report.json", "report.html"))
    report = json.loads((out / "report.json").read_text())
    report.pop("timings")
    html = [line for line in (out / "report.html").read_text().splitlines() if not line.startswith("Speed:")]
    return {**found, "report.json": report, "report.html": html}


def test_dataset_make_on_a_full_disk_keeps_the_last_data_set_usable_and_resumes(book, small_disk, tmp_path):
    from tacotron.data.recordings.maker import DatasetMaker

    from support.synthetic_book import read_test_book, write_exact_recognition

    source = (book / "book.wav").resolve()
    out = tmp_path / "out"
    maker = DatasetMaker(out, "en", load_config(), transcript=book / "book.txt", progress=False)
    write_exact_recognition(out, maker.cut_source(source), read_test_book(book))  # no Whisper
    first = maker.make([source])
    assert len(first.kept) >= 4
    reference = dataset_snapshot(out)

    # Fewer clips kept (the transcript lost its last sentence) on a disk that is full: the last
    # metadata.csv and every wav it lists stay.
    shorter = tmp_path / "shorter.txt"
    shorter.write_text(" ".join(utterance.text for utterance in read_test_book(book).utterances[:-1]))
    small_disk(0)
    # The first write to fail is metadata.csv, or a clip whose cut moved with the shorter transcript.
    with pytest.raises(DiskFull, match=r"out/(metadata\.csv|wavs/.*\.wav)"):
        DatasetMaker(out, "en", load_config(), transcript=shorter, progress=False).make([source])
    assert dataset_snapshot(out) == reference and not temp_files(out)

    # Cutting on a full disk, in a new folder: whole clips only, and the run resumes to the same set.
    again = tmp_path / "again"
    small_disk(200_000)
    with pytest.raises(DiskFull, match=r"clips/.*\.wav"):
        DatasetMaker(again, "en", load_config(), transcript=book / "book.txt", progress=False).make([source])
    assert list((again / "clips").glob("*.wav")) and not temp_files(again)
    assert not list((again / ".work").glob("*.json"))  # the file is cut again from the start
    small_disk.free_space()
    resumed = DatasetMaker(again, "en", load_config(), transcript=book / "book.txt", progress=False)
    write_exact_recognition(again, resumed.cut_source(source), read_test_book(book))
    resumed.make([source])
    assert resumed.timings["asr_seconds"] == 0
    assert dataset_snapshot(again) == reference


@pytest.mark.slow
def test_dataset_make_killed_while_recognizing_then_rerun_equals_an_uninterrupted_run(book, tmp_path):
    out = tmp_path / "out"
    # Windows of 8 s: a few of them, so that the kill lands between two.
    settings = ["dataset.max_seconds=8", "dataset.asr_window_seconds=8"]
    command = ["dataset", "make", book / "book.wav", "--lang", "en", "--out", out,
               "--transcript", book / "book.txt", *settings]
    process = start_cli(*command)
    recognized = out / ".work"
    kill_when(process, lambda: any(path.stat().st_size for path in recognized.glob("*.asr.jsonl")))
    assert not (out / "metadata.csv").exists()
    finished = cli(*command)
    assert finished.returncode == 0, finished.stderr
    after = dataset_snapshot(out)
    shutil.rmtree(out)
    # The uninterrupted run under the same command and environment: Whisper's words depend on its
    # thread count (OMP_NUM_THREADS=1 heard "The Jolly Actors" where two threads heard "The jolly
    # actors", on an AMD EPYC), so an in-process run with other threads is no reference.
    uninterrupted = cli(*command)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert dataset_snapshot(out) == after


# ------------------------------------------------------------------ serving: clients that leave
def test_a_request_whose_client_left_while_it_waited_gives_its_place_back_at_once():
    """Found by the soak (benchmarks/serve_load.py --minutes): clients that hung up kept their
    queue places until the worker reached their jobs, so the clients after them got 503s."""
    import asyncio
    import threading

    pytest.importorskip("fastapi")
    from tacotron.serve.jobs import Job, QueueFull, SynthesisQueue

    dropped = []
    queue = SynthesisQueue(workers=1, queue_size=1, on_dropped=lambda: dropped.append(1))
    loop = asyncio.new_event_loop()
    release, ran = threading.Event(), []

    def slow():
        release.wait(30)
        ran.append("slow")
        yield "slow"

    def quick():
        ran.append("quick")
        yield "quick"

    try:
        running, waiting = Job(slow, loop), Job(slow, loop)
        queue.submit(running)
        queue.submit(waiting)
        with pytest.raises(QueueFull):
            queue.submit(Job(quick, loop))
        waiting.cancel()  # its client left while it waited
        queue.submit(Job(quick, loop))  # the place it held
        with pytest.raises(QueueFull):
            queue.submit(Job(quick, loop))
        release.set()
        deadline = time.monotonic() + 30
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ran == ["slow", "quick"] and dropped == [1]  # the cancelled job never ran
    finally:
        release.set()
        queue.close()
        loop.close()


def test_freed_heap_memory_goes_back_to_the_system_after_each_request(monkeypatch):
    """Found by the soak: glibc kept the freed tensors of every request in its heaps, so the
    server's RSS kept rising to new high-water marks (serve/memory.py)."""
    pytest.importorskip("fastapi")
    from tacotron.serve import jobs, memory

    if memory._MALLOC_TRIM is None or not Path("/proc/self/status").is_file():
        pytest.skip("not glibc on Linux: no malloc_trim")
    # As a synthesis does, in a process of its own (the heap's state is the point): a large block
    # freed (glibc then serves blocks up to its size from the heap), then blocks below that size,
    # freed while the small ones allocated after each of them live on.
    script = """
import numpy as np
from pathlib import Path
from tacotron.serve.memory import release_free_memory
def rss():
    return next(int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmRSS:"))
large = bytearray(16 << 20)
del large
blocks, keepers = [], []
for _ in range(60):  # 8 MB each, 480 MB
    blocks.append(np.ones(1 << 20))
    keepers.append(np.ones(1 << 13))
before = rss()
del blocks
kept = rss()
release_free_memory()
print(before, kept, rss())
"""
    before, kept, released = map(float, subprocess.run([sys.executable, "-c", script], capture_output=True,
                                                       text=True, check=True).stdout.split())
    assert before - kept < 100  # glibc keeps what was freed ...
    assert kept - released > 400  # ... until it is asked to give it back

    trimmed = []
    monkeypatch.setattr(jobs, "release_free_memory", lambda: trimmed.append(1))
    import asyncio

    queue = jobs.SynthesisQueue(workers=1, queue_size=2)
    loop = asyncio.new_event_loop()
    try:
        def work():
            yield "spoken"

        for _ in range(3):
            queue.submit(jobs.Job(work, loop))
        deadline = time.monotonic() + 30
        while len(trimmed) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(trimmed) == 3  # after every job
    finally:
        queue.close()
        loop.close()
