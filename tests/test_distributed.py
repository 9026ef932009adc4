"""DDP: two CPU processes under torchrun (gloo) train one model. The workers run
tests/ddp_worker.py (`tacotron.cli` plus a per-rank dump of weights, controls and metrics, and
a hang at a chosen step for the kill -9 test); the product has no test hook."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tacotron.runs import checkpoint as ckpt
from tacotron.runs.events import read_events

from support.overrides import FAST_OVERRIDES

pytestmark = pytest.mark.slow  # trains under torchrun

WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun_command(corpus, run_dir, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            str(WORKER), "train", "--data", str(corpus), "--out", str(run_dir),
            "--preset", "cpu-tiny", *FAST_OVERRIDES, "train.max_minutes=5", *overrides]


def worker_env(out: Path, **extra: str) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "DDP_WORKER_OUT": str(out), **extra}


def job_processes(launcher_pid: int) -> list[int]:
    """torchrun's process and its children, the workers (each in its own session, so killing
    torchrun's process group would miss them)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == launcher_pid:
            children.append(int(stat.parent.name))
    return [launcher_pid, *children]


def kill_job(launcher_pid: int) -> None:
    for pid in job_processes(launcher_pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def rank_dumps(out: Path) -> tuple[dict, dict]:
    return (torch.load(out / "rank0.pt", weights_only=False),
            torch.load(out / "rank1.pt", weights_only=False))


def assert_same_weights(rank0: dict, rank1: dict) -> None:
    # Parameters and optimizer state must be bit-identical; BatchNorm running statistics are
    # each rank's own after its last forward (DDP re-sends rank 0's at every forward).
    parameters = [key for key in rank0["model"] if "running_" not in key
                  and "num_batches_tracked" not in key]
    assert parameters
    for key in parameters:
        assert torch.equal(rank0["model"][key], rank1["model"][key]), key
    states0, states1 = rank0["optimizer"]["state"], rank1["optimizer"]["state"]
    assert states0.keys() == states1.keys() and states0
    for index, state in states0.items():
        for name, value in state.items():
            assert torch.equal(value, states1[index][name]), (index, name)


def test_two_ranks_hold_identical_weights_and_agree_on_decisions(corpus_en, tmp_path):
    """Validation every 2 steps, and a plateau rule that cuts the LR at steps 4 and 6 (no 50%
    improvement in one validation): rank 0 decides, rank 1 must apply the same cuts."""
    run_dir, out = tmp_path / "run", tmp_path / "dumps"
    started = time.monotonic()
    result = subprocess.run(
        torchrun_command(corpus_en, run_dir, "train.max_steps=6", "train.val_every_steps=2",
                         "autofix.plateau_patience=1", "autofix.plateau_min_delta=0.5",
                         "autofix.cooldown_steps=0"),
        env=worker_env(out), capture_output=True, text=True, timeout=600)
    print(f"torchrun 2 ranks, 6 steps: {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count('"step": 6') == 2  # both ranks finished at the same step

    rank0, rank1 = rank_dumps(out)
    assert rank0["step"] == rank1["step"] == 6
    assert_same_weights(rank0, rank1)
    # Rank 1 holds rank 0's validation figures and controller memory, not its own.
    assert rank0["val_metrics"] == rank1["val_metrics"]
    assert rank0["controls"] == rank1["controls"]
    assert len(rank0["controls"]["mel_l1_history"]) == 3
    assert rank0["controls"]["lr_scale"] < 1.0  # the LR cuts happened, on both ranks
    fixes = [e for e in read_events(run_dir) if e.kind == "autofix"]
    assert [e.step for e in fixes] == [4, 6]

    # Rank 0's checkpoint is what rank 0 trained, under the plain model's keys (synth loads them).
    state = torch.load(ckpt.step_checkpoints(run_dir)[-1][1], weights_only=False)
    assert ckpt.step_checkpoints(run_dir)[-1][0] == 6
    assert not any(key.startswith("module.") for key in state["model"])
    assert all(torch.equal(state["model"][key], rank0["model"][key]) for key in state["model"])
    start = next(e for e in read_events(run_dir) if e.kind == "train_start")
    assert (start.fields["processes"], start.fields["global_batch_size"]) == (2, 2 * 4)


def test_kill_9_of_the_job_resumes_from_the_last_checkpoint(corpus_en, tmp_path):
    run_dir, out = tmp_path / "run", tmp_path / "dumps"
    # Checkpoint (and validation) at step 3; the first run is killed at step 5.
    command = torchrun_command(corpus_en, run_dir, "train.max_steps=6",
                               "train.checkpoint_every_steps=3", "train.val_every_steps=3")
    started = time.monotonic()
    log = tmp_path / "killed_run.log"
    with log.open("w") as log_file:  # a file, not a pipe: a full pipe would stall the job
        job = subprocess.Popen(command, env=worker_env(out, DDP_WORKER_HANG_AT_STEP="5"),
                               stdout=log_file, stderr=subprocess.STDOUT)
    try:
        while not all((out / f"hanging{rank}").is_file() for rank in (0, 1)):
            assert job.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() - started < 600, "the job never reached step 5"
            time.sleep(0.2)
        workers = {int((out / f"hanging{rank}").read_text()) for rank in (0, 1)}
        assert workers <= set(job_processes(job.pid))
    finally:
        kill_job(job.pid)  # kill -9 of torchrun and both workers
        job.wait(timeout=60)
    assert [step for step, _ in ckpt.step_checkpoints(run_dir)] == [3]

    result = subprocess.run(command, env=worker_env(out), capture_output=True, text=True,
                            timeout=600)
    print(f"kill -9 at step 5, resume to step 6: {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    starts = [e for e in read_events(run_dir) if e.kind == "train_start"]
    assert len(starts) == 2
    assert starts[1].step == 3 and starts[1].fields["resumed_from"].endswith("step_0000003.pt")
    assert [step for step, _ in ckpt.step_checkpoints(run_dir)] == [3, 6]
    rank0, rank1 = rank_dumps(out)
    assert rank0["step"] == rank1["step"] == 6
    assert_same_weights(rank0, rank1)  # both ranks resumed from the same checkpoint
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").open()]
    assert steps == [3, 6]


def test_ctrl_c_stops_both_ranks_at_the_same_step_with_a_checkpoint(corpus_en, tmp_path):
    """Ctrl-C reaches torchrun (its workers run in their own sessions), which sends SIGINT to
    each worker: both finish the step, rank 0 saves, and neither loses work."""
    run_dir, out = tmp_path / "run", tmp_path / "dumps"
    log = tmp_path / "run.log"
    with log.open("w") as log_file:
        job = subprocess.Popen(torchrun_command(corpus_en, run_dir, "train.max_steps=100000",
                                                "train.checkpoint_every_steps=2"),
                               env=worker_env(out), stdout=log_file, stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        while not ckpt.step_checkpoints(run_dir):
            assert job.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() - started < 600, "no checkpoint was written"
            time.sleep(0.2)
        job.send_signal(signal.SIGINT)
        job.wait(timeout=300)
    finally:
        kill_job(job.pid)  # nothing left if the job did not stop
        job.wait(timeout=60)
    rank0, rank1 = rank_dumps(out)
    assert rank0["finished_reason"] == rank1["finished_reason"] == "interrupted"
    step = rank0["step"]
    assert rank1["step"] == step > 0
    assert ckpt.step_checkpoints(run_dir)[-1][0] == step  # saved where it stopped
    end = [e for e in read_events(run_dir) if e.kind == "train_end"][-1]
    assert (end.step, end.fields["reason"]) == (step, "interrupted")
    assert_same_weights(rank0, rank1)
