"""Intelligibility against CPU minutes of training: one run per variant, its checkpoints kept at
the minute marks of training time, each evaluated by Whisper on the held-out sentences.

    flock /tmp/cpu.lock python benchmarks/intelligibility_curve.py \
        --variant old en data/old-en text.input=characters \
        --variant new en data/espeak-en \
        [--minutes 5,10,20,30 | --steps 1000,2000,4000] [--limit N] [--out runs/curve] [--set KEY=VALUE]

A variant is NAME LANGUAGE CORPUS_DIR [key=value ...] (overrides of the cpu-tiny preset). Each run
trains until the last mark (train.max_minutes); when its training time (Trainer.train_seconds,
validation included) first reaches a mark, the checkpoint is saved and copied to
OUT/NAME/minutes_MM.pt. Then every kept checkpoint speaks the held-out sentences and is scored
(`tacotron evaluate`, reports in OUT/NAME/evaluation-MARK/), on the held-out sentences of
--eval-data (default: each variant's own corpus; give one corpus to compare variants trained on
different corpora on the same sentences). Re-running continues: a run resumes from its newest
checkpoint, marks already kept are not trained again, reports already written are read.

With --steps the marks are training steps instead: the run saves a checkpoint at every mark
(train.checkpoint_every_steps is the marks' greatest common divisor) and keeps them all, and the
figures are keyed by step. Use it on a shared machine, where minutes measure the neighbours' load
as much as the model; a step's CPU minutes on an idle machine are steps / the idle step rate.
OUT/NAME/run may also be a run trained before (a link to it): its step_N.pt files are used as they are.
Prints one JSON line:

    {"NAME": {"5": {"wer": .., "cer": .., "mcd_db": .., "mos": .., "step": ..}, ..., "source": {"wer": .., "cer": .., "mos": ..}}, ..}

"source" is Whisper on the corpus's own recordings of the same sentences: the ceiling. "mos" is the
predicted MOS (evaluation/naturalness.py; null without DistillMOS).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

from tacotron.config import load_config
from tacotron.data.prepare import prepare
from tacotron.evaluation.report import evaluate_checkpoint
from tacotron.monitoring.sinks import build_callbacks
from tacotron.runs import checkpoint as ckpt
from tacotron.training.callbacks import Callback, RunView
from tacotron.training.trainer import Trainer
from tacotron.training.warm_start import inherit_source_shape


def mark_path(variant_dir: Path, minutes: float) -> Path:
    return variant_dir / f"minutes_{minutes:g}.pt"


class KeepAtMarks(Callback):
    """Asks for a checkpoint when training time first reaches each mark and keeps a copy of it."""

    def __init__(self, marks: list[float], variant_dir: Path):
        self.pending = [m for m in sorted(marks) if not mark_path(variant_dir, m).is_file()]
        self.reached: list[float] = []  # marks passed, waiting for their checkpoint
        self.variant_dir = variant_dir

    def on_step_end(self, trainer: RunView, logs: dict[str, float]) -> None:
        while self.pending and trainer.train_seconds >= self.pending[0] * 60.0:
            self.reached.append(self.pending.pop(0))
        if self.reached:
            trainer.request_checkpoint()

    def on_checkpoint(self, trainer: RunView, path: Path, is_best: bool) -> None:
        for mark in self.reached:
            kept = mark_path(self.variant_dir, mark)
            shutil.copyfile(path, kept.with_suffix(".tmp"))
            kept.with_suffix(".tmp").replace(kept)
            print(f"kept {kept} (step {trainer.step}, {trainer.train_seconds / 60:.1f} min)",
                  file=sys.stderr, flush=True)
        self.reached = []


def step_mark_path(variant_dir: Path, step: int) -> Path:
    return ckpt.step_checkpoint_path(variant_dir / "run", step)


def train_variant(name: str, language: str, data: Path, overrides: list[str], marks: list[float],
                  out: Path, by_steps: bool) -> None:
    variant_dir = out / name
    if by_steps:
        if all(step_mark_path(variant_dir, int(m)).is_file() for m in marks):
            return
        every = math.gcd(*(int(m) for m in marks))
        budget = [f"train.max_steps={int(max(marks))}", f"train.checkpoint_every_steps={every}",
                  "train.keep_last_checkpoints=0"]  # 0: keep every checkpoint
        callbacks = []
    else:
        keeper = KeepAtMarks(marks, variant_dir)
        if not keeper.pending:
            return
        budget = [f"train.max_minutes={max(marks)}"]
        callbacks = [keeper]
    config = load_config("cpu-tiny", overrides=[f"text.language={language}", *budget, *overrides])
    if config.train.init_from:  # a fine-tuning variant takes its source's shape, as `tacotron train` does
        inherit_source_shape(config, overrides)
    prepared = prepare(data, config)
    Trainer(config, prepared, variant_dir / "run", callbacks=[*callbacks, *build_callbacks(config)]).fit()


def evaluate_variant(name: str, data: Path, marks: list[float], out: Path, limit: int | None,
                     vocoder: str, by_steps: bool, settings: list[str] | None = None) -> dict:
    """Each kept checkpoint through `tacotron evaluate` (evaluation/report.py), its report in
    OUT/NAME/evaluation-MARK/; a report already there for the same sentence count is read, not redone."""
    figures: dict[str, dict] = {}
    source = None
    for mark in marks:
        path = step_mark_path(out / name, int(mark)) if by_steps else mark_path(out / name, mark)
        if not path.is_file():  # the run ended sooner (max_steps, early stop)
            continue
        report_dir = out / name / f"evaluation-{mark:g}"
        done = report_dir / "evaluation.json"
        report = json.loads(done.read_text(encoding="utf-8")) if done.is_file() else None
        if report is None or (limit and report["summary"]["sentences"] != limit):
            report = evaluate_checkpoint(path, data, out_dir=report_dir, vocoder=vocoder, limit=limit,
                                         overrides=settings)
        summary = report["summary"]
        figures[f"{mark:g}"] = {"wer": summary["voice_wer"], "cer": summary["voice_cer"],
                                "mcd_db": summary["mcd_db"], "duration_ratio": summary["duration_ratio"],
                                "mos": summary.get("voice_mos"), "step": report["step"]}
        source = {"wer": summary["source_wer"], "cer": summary["source_cer"], "mos": summary.get("source_mos")}
        print(f"{name} {mark:g}: {json.dumps(figures[f'{mark:g}'])}", file=sys.stderr, flush=True)
    return {**figures, "source": source}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", nargs="+", action="append", required=True,
                        metavar="NAME LANG DATA [key=value]", help="a variant (repeat the option)")
    parser.add_argument("--minutes", default="5,10,20,30", help="marks of training time, comma-separated")
    parser.add_argument("--steps", help="marks in training steps instead of minutes, comma-separated")
    parser.add_argument("--eval-data", type=Path, help="corpus whose held-out sentences every variant speaks")
    parser.add_argument("--limit", type=int, help="evaluate only the first N held-out sentences")
    parser.add_argument("--out", default="runs/intelligibility-curve")
    parser.add_argument("--vocoder", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an inference.* or postprocess.* setting every checkpoint speaks with (repeat), "
                             "e.g. postprocess.noise_gate=false for runs saved when the gate was on by default; "
                             "reports already in --out are read as they are, so give a fresh --out when these change")
    args = parser.parse_args()
    by_steps = bool(args.steps)
    marks = sorted(float(value) for value in (args.steps or args.minutes).split(","))
    variants = []
    for entry in args.variant:
        if len(entry) < 3:
            parser.error(f"--variant {' '.join(entry)}: expected NAME LANG DATA [key=value ...]")
        variants.append((entry[0], entry[1], Path(entry[2]), entry[3:]))
    out = Path(args.out)
    for name, language, data, overrides in variants:  # all training first, then all evaluation
        train_variant(name, language, data, overrides, marks, out, by_steps)
    result = {name: evaluate_variant(name, args.eval_data or data, marks, out, args.limit, args.vocoder, by_steps,
                                     args.set)
              for name, _, data, _ in variants}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
