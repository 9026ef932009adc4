"""DDP without code changes: two CPU processes under torchrun (gloo) train one model."""

import subprocess
import sys

import pytest
import torch

from tacotron.runs import checkpoint as ckpt

from conftest import FAST_OVERRIDES

pytestmark = pytest.mark.slow  # trains under torchrun


def test_torchrun_two_processes_train_and_rank0_saves(corpus_en, tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "tacotron.cli", "train", "--data", str(corpus_en), "--out", str(run_dir),
         "--preset", "cpu-tiny", *FAST_OVERRIDES, "train.max_steps=6", "train.max_minutes=5"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [step for step, _ in ckpt.step_checkpoints(run_dir)][-1] == 6
    state = torch.load(ckpt.step_checkpoints(run_dir)[-1][1], weights_only=False)
    # Keys are the plain model's, not DDP's "module."-prefixed ones, so synth can load them.
    assert not any(key.startswith("module.") for key in state["model"])
    assert result.stdout.count('"step": 6') == 2  # both ranks finished at the same step
