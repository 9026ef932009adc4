"""The first steps of training, per variant: how fast the mel loss leaves the average spectrum.
Trains cpu-tiny with each variant's overrides for --steps steps, one variant after the other, and
prints one JSON line: per variant its steps/s (validations included), its mean training mel L1
over the last 25 steps, and its teacher-forced validation mel L1 at every validation.

    flock /tmp/cpu.lock python benchmarks/early_training.py --data data/espeak-en --steps 600 \
        --variant raw train.standardize_frames=false --variant standardized \
        --variant raw-lr1e-3 train.standardize_frames=false train.learning_rate=0.001

A variant is NAME [key=value ...]; runs go to --out/NAME (a finished one is read, not trained
again). docs/results.md ("Standardized frames") has the table of the screen that made standardized
frames the default.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tacotron.config import load_config
from tacotron.data.prepare import prepare
from tacotron.training.callbacks import Callback, RunView
from tacotron.training.trainer import Trainer

LAST_STEPS = 25  # the training mel L1 is averaged over this many final steps (one batch is noisy)


class StepLog(Callback):
    """Every step's training mel L1, and the wall-clock seconds since the run started."""

    def __init__(self):
        self.mel_l1: list[float] = []
        self.started = time.monotonic()
        self.seconds = 0.0

    def on_step_end(self, trainer: RunView, logs: dict[str, float]) -> None:
        self.mel_l1.append(logs["mel_l1"])
        self.seconds = time.monotonic() - self.started


def run_variant(name: str, overrides: list[str], data: Path, steps: int, out: Path) -> dict:
    run_dir = out / name
    result_file = run_dir / "early_training.json"
    if result_file.is_file():
        return json.loads(result_file.read_text(encoding="utf-8"))
    config = load_config("cpu-tiny", overrides=[f"train.max_steps={steps}", "train.val_every_steps=100",
                                                f"train.checkpoint_every_steps={steps}", *overrides])
    log = StepLog()
    Trainer(config, prepare(data, config, progress=False), run_dir, callbacks=[log], progress=False).fit()
    validations = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text("utf-8").splitlines()]
    result = {"overrides": overrides, "steps_per_second": round(len(log.mel_l1) / log.seconds, 3),
              "train_mel_l1_last": round(sum(log.mel_l1[-LAST_STEPS:]) / len(log.mel_l1[-LAST_STEPS:]), 4),
              "val_mel_l1": {str(row["step"]): round(row["mel_l1"], 4) for row in validations}}
    result_file.write_text(json.dumps(result), encoding="utf-8")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a corpus folder (tacotron corpus make)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--variant", nargs="+", action="append", required=True, metavar="NAME [key=value]")
    parser.add_argument("--out", type=Path, default=Path("runs/early-training"))
    args = parser.parse_args()
    results = {name: run_variant(name, overrides, args.data, args.steps, args.out)
               for name, *overrides in args.variant}
    print(json.dumps({"benchmark": "early_training", "steps": args.steps, **results}))


if __name__ == "__main__":
    main()
