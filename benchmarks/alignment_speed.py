"""How fast does the attention align? Trains variants of the cpu-tiny Tacotron 2 on the same
corpus, seed and step budget, validating every `--val-every` steps, and prints one JSON line with
each variant's first step at validation diagonality >= 0.9 ("not reached" when it never got
there, with its final figure) and its final validation mel L1.

    python benchmarks/alignment_speed.py --data data/espeak-en --steps 400
    python benchmarks/alignment_speed.py --data data/espeak-en --steps 400 --variants all

Variants: `vanilla` is Tacotron 2 with the paper's training (Adam 1e-3, no guided attention, no
curriculum, no extra losses, no phases, no auto-fix) at the same model size; `default` is this
toolkit's defaults; the others switch one default off (`no_*`) or one option on (`with_*`).
A step budget, not a time budget, makes the comparison fair on a shared, noisy machine; the
seconds each variant took are reported too.
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

VARIANTS: dict[str, list[str]] = {
    "vanilla": ["train.learning_rate=0.001", "loss.guided_attention_weight=0",
                "loss.spectral_weight=0", "loss.monotonic_weight=0", "schedule.phases=false",
                "schedule.teacher_forcing_constant_steps=100000000", "autofix.enabled=false"],
    "default": [],
    "no_guided_attention": ["loss.guided_attention_weight=0"],
    "with_sigma_annealing": ["schedule.guided_sigma_start=0.4"],
    "no_spectral_loss": ["loss.spectral_weight=0"],
    "no_monotonic_loss": ["loss.monotonic_weight=0"],
    "no_phases": ["schedule.phases=false"],
    "no_autofix": ["autofix.enabled=false"],
    "with_ddc": ["model.ddc_reduction_factor=6", "loss.ddc_alignment_weight=1"],
    "with_ctc": ["model.ctc_recognizer_dim=64", "loss.ctc_weight=0.1"],
}


class Recorder(Callback):
    def __init__(self):
        self.history: list[tuple[int, float, float]] = []  # step, diagonality, mel L1

    def on_validation_end(self, trainer, metrics, sample):
        self.history.append((trainer.step, metrics["diagonality"], metrics["mel_l1"]))


def run_variant(name: str, data_dir: Path, steps: int, val_every: int, threads: int) -> dict:
    config = load_config("cpu-tiny", overrides=[
        f"train.max_steps={steps}", f"train.val_every_steps={val_every}",
        f"train.checkpoint_every_steps={steps}", "train.checkpoint_every_minutes=1000",
        f"train.num_threads={threads}", *VARIANTS[name]])
    prepared = prepare(data_dir, config, progress=False)
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, prepared, run_dir, callbacks=[recorder], progress=False)
        started = time.monotonic()
        trainer.fit()
        seconds = time.monotonic() - started
        autofix = sum(1 for line in (Path(run_dir) / "events.jsonl").read_text().splitlines()
                      if '"kind": "autofix"' in line)
    reached = next((step for step, diag, _ in recorder.history if diag >= TARGET_DIAGONALITY),
                   None)
    return {"variant": name, "steps_to_0.9": reached if reached is not None else "not reached",
            "final_diagonality": round(recorder.history[-1][1], 4),
            "final_val_mel_l1": round(recorder.history[-1][2], 4),
            "steps": trainer.step, "seconds": round(seconds, 1), "autofix_actions": autofix,
            "diagonality_by_step": {step: round(diag, 3) for step, diag, _ in recorder.history}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="data/espeak-en")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--val-every", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", default="vanilla,default",
                        help=f"comma-separated, or 'all' ({', '.join(VARIANTS)})")
    args = parser.parse_args()
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")
    torch.set_num_threads(args.threads)
    results = []
    for name in names:
        result = run_variant(name, Path(args.data), args.steps, args.val_every, args.threads)
        print(json.dumps(result), file=sys.stderr, flush=True)
        results.append(result)
    summary = {"steps": args.steps, "val_every": args.val_every, "threads": args.threads,
               "variants": {r["variant"]: {k: v for k, v in r.items()
                                           if k not in ("variant", "diagonality_by_step")}
                            for r in results}}
    by_name = {r["variant"]: r for r in results}
    if "vanilla" in by_name and "default" in by_name:
        vanilla, default = by_name["vanilla"]["steps_to_0.9"], by_name["default"]["steps_to_0.9"]
        if isinstance(vanilla, int) and isinstance(default, int):
            summary["default_over_vanilla_steps"] = round(default / vanilla, 3)
        elif isinstance(default, int):
            summary["default_over_vanilla_steps"] = (
                f"< {default}/{args.steps} (vanilla not reached; its final diagonality "
                f"{by_name['vanilla']['final_diagonality']})")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
