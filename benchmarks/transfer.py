"""Does starting from a trained voice help on little data? Fine-tunes a cpu-tiny Tacotron 2
trained on the eSpeak English corpus (`--source`, a checkpoint or run folder) on a small Russian
eSpeak data set, against training the same model from scratch on the same data, with the same
seed and step budget, and prints one JSON line: per variant, its first step at validation
diagonality >= 0.9 ("not reached" when it never got there), its validation mel L1 at every
validation (so the variants compare at equal steps) and at the end. Each run is validated once
before its first step too (step 0), so a warm start shows where it begins.

    head -60 data/new-ru/metadata.csv > data/ru60/metadata.csv   # + their wavs/ (or corpus make --count 60)
    python benchmarks/transfer.py --source runs/en/checkpoints/step_0002000.pt --data data/ru60 \\
        --steps 300 --val-every 25 --variants scratch fine_tune fine_tune_low_lr \\
        fine_tune_freeze_encoder fine_tune_freeze_decoder

Variants: `scratch` (random weights), `fine_tune` (train.init_from=SOURCE, the default settings),
`fine_tune_freeze_encoder` / `_decoder` (embedding and encoder, or decoder and postnet, frozen for
the first 100 steps), `fine_tune_low_lr` (the learning rate a quarter of the preset's). A step
budget, not a time budget, makes the comparison fair on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from tacotron.config import load_config
from tacotron.data.prepare import prepare
from tacotron.training.callbacks import Callback
from tacotron.training.trainer import Trainer

TARGET_DIAGONALITY = 0.9


def variants(source: str, learning_rate: float) -> dict[str, list[str]]:
    warm = [f"train.init_from={source}"]
    return {
        "scratch": [],
        "fine_tune": warm,
        "fine_tune_freeze_encoder": [*warm, "train.freeze=[embedding,encoder]",
                                     "train.freeze_steps=100"],
        "fine_tune_freeze_decoder": [*warm, "train.freeze=[decoder,postnet]",
                                     "train.freeze_steps=100"],
        "fine_tune_low_lr": [*warm, f"train.learning_rate={learning_rate / 4}"],
    }


class Recorder(Callback):
    def __init__(self):
        self.history: list[tuple[int, float, float]] = []  # step, diagonality, mel L1

    def on_validation_end(self, trainer, metrics, sample):
        self.history.append((trainer.step, metrics["diagonality"], metrics["mel_l1"]))


def run_variant(name: str, overrides: list[str], data_dir: Path, steps: int, val_every: int,
                threads: int) -> dict:
    config = load_config("cpu-tiny", overrides=[
        f"train.max_steps={steps}", f"train.val_every_steps={val_every}",
        f"train.checkpoint_every_steps={steps}", "train.checkpoint_every_minutes=1000",
        f"train.num_threads={threads}", *overrides])
    prepared = prepare(data_dir, config, progress=False)
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, prepared, run_dir, callbacks=[recorder], progress=False)
        before, _ = trainer.task.validate()  # step 0: where the run starts
        recorder.history.append((0, before["diagonality"], before["mel_l1"]))
        started = time.monotonic()
        trainer.fit()
        seconds = time.monotonic() - started
    reached = next((step for step, diag, _ in recorder.history if diag >= TARGET_DIAGONALITY),
                   None)
    return {"variant": name, "steps_to_0.9": reached if reached is not None else "not reached",
            "final_diagonality": round(recorder.history[-1][1], 4),
            "final_val_mel_l1": round(recorder.history[-1][2], 4),
            "steps": trainer.step, "seconds": round(seconds, 1),
            "train_utterances": len(prepared.train), "val_utterances": len(prepared.val),
            "mel_l1_by_step": {step: round(l1, 4) for step, _, l1 in recorder.history},
            "diagonality_by_step": {step: round(diag, 3) for step, diag, _ in recorder.history}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="the English model (checkpoint or run)")
    parser.add_argument("--data", required=True, help="the small data set to fine-tune on")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--val-every", type=int, default=50)
    # 1 on a shared 2-core machine: two threads per process oversubscribe it (measured ~17 s a step
    # with 2 threads beside other jobs).
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=["scratch", "fine_tune"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    source = str(Path(args.source).resolve())
    table = variants(source, load_config("cpu-tiny").train.learning_rate)
    unknown = [name for name in args.variants if name not in table]
    if unknown:
        sys.exit(f"unknown variants {unknown}; choose from {list(table)}")
    results = []
    for name in args.variants:
        results.append(run_variant(name, table[name], Path(args.data), args.steps,
                                   args.val_every, args.threads))
        print(f"{name}: {results[-1]}", file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "transfer", "source": source, "data": str(args.data),
                      "steps": args.steps, "target_diagonality": TARGET_DIAGONALITY,
                      "variants": results}))


if __name__ == "__main__":
    main()
