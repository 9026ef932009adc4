"""Intelligibility against CPU minutes of training: one run per variant, its checkpoints kept at
the minute marks of training time, each evaluated by Whisper on the held-out sentences.

    flock /tmp/cpu.lock python benchmarks/intelligibility_curve.py \
        --variant old en data/espeak-en \
        --variant phonemes en data/espeak-en text.input=phonemes \
        [--minutes 5,10,20,30] [--limit N] [--out runs/curve]

A variant is NAME LANGUAGE CORPUS_DIR [key=value ...] (overrides of the cpu-tiny preset). Each run
trains until the last mark (train.max_minutes); when its training time (Trainer.train_seconds,
validation included) first reaches a mark, the checkpoint is saved and copied to
OUT/NAME/minutes_MM.pt. Then every kept checkpoint speaks the held-out sentences and is scored
(tacotron.evaluation). Re-running continues: a run resumes from its newest checkpoint and marks
already kept are not trained again. Prints one JSON line:

    {"NAME": {"5": {"wer": .., "cer": .., "mcd_db": .., "step": ..}, ..., "source": {"wer": .., "cer": ..}}, ..}

"source" is Whisper on the corpus's own recordings of the same sentences: the ceiling.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from tacotron.audio.recognizer import Recognizer
from tacotron.config import load_config
from tacotron.data.prepare import prepare
from tacotron.evaluation.intelligibility import Heard, evaluate_sentences, held_out_sentences
from tacotron.inference import Synthesizer
from tacotron.runs import checkpoint as ckpt
from tacotron.monitoring.sinks import build_callbacks
from tacotron.training.trainer import Callback, Trainer


def mark_path(variant_dir: Path, minutes: float) -> Path:
    return variant_dir / f"minutes_{minutes:g}.pt"


class KeepAtMarks(Callback):
    """Saves a checkpoint when training time first reaches each mark and keeps a copy of it."""

    def __init__(self, marks: list[float], variant_dir: Path):
        self.pending = [m for m in sorted(marks) if not mark_path(variant_dir, m).is_file()]
        self.variant_dir = variant_dir

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.pending and trainer.train_seconds >= self.pending[0] * 60.0:
            path = trainer.save()
            while self.pending and trainer.train_seconds >= self.pending[0] * 60.0:
                kept = mark_path(self.variant_dir, self.pending.pop(0))
                shutil.copyfile(path, kept.with_suffix(".tmp"))
                kept.with_suffix(".tmp").replace(kept)
                print(f"kept {kept} (step {trainer.step}, {trainer.train_seconds / 60:.1f} min)",
                      file=sys.stderr, flush=True)


def train_variant(name: str, language: str, data: Path, overrides: list[str], marks: list[float],
                  out: Path) -> None:
    variant_dir = out / name
    keeper = KeepAtMarks(marks, variant_dir)
    if not keeper.pending:
        return
    config = load_config("cpu-tiny", overrides=[f"text.language={language}", f"train.max_minutes={max(marks)}",
                                                *overrides])
    prepared = prepare(data, config)
    Trainer(config, prepared, variant_dir / "run", callbacks=[keeper, *build_callbacks(config)]).fit()


def evaluate_variant(name: str, language: str, data: Path, marks: list[float], out: Path,
                     limit: int | None, recognizers: dict[str, Recognizer], vocoder: str) -> dict:
    sentences = held_out_sentences(data, limit=limit)
    recognizer = recognizers.setdefault(language, Recognizer(language=language))
    heard_sources: dict[str, Heard] = {}
    figures: dict[str, dict] = {}
    source = None
    for minutes in marks:
        path = mark_path(out / name, minutes)
        if not path.is_file():  # the run ended sooner (max_steps, early stop)
            continue
        synthesizer = Synthesizer.from_checkpoint(path, vocoder=vocoder)
        evaluation = evaluate_sentences(synthesizer, recognizer, sentences, heard_sources=heard_sources)
        summary = evaluation.summary
        figures[f"{minutes:g}"] = {"wer": summary["voice_wer"], "cer": summary["voice_cer"],
                                   "mcd_db": summary["mcd_db"], "duration_ratio": summary["duration_ratio"],
                                   "step": ckpt.load_checkpoint(path)["step"]}
        source = {"wer": summary["source_wer"], "cer": summary["source_cer"]}
        print(f"{name} {minutes:g} min: {json.dumps(figures[f'{minutes:g}'])}", file=sys.stderr, flush=True)
    return {**figures, "source": source}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", nargs="+", action="append", required=True,
                        metavar="NAME LANG DATA [key=value]", help="a variant (repeat the option)")
    parser.add_argument("--minutes", default="5,10,20,30", help="marks of training time, comma-separated")
    parser.add_argument("--limit", type=int, help="evaluate only the first N held-out sentences")
    parser.add_argument("--out", default="runs/intelligibility-curve")
    parser.add_argument("--vocoder", default="default")
    args = parser.parse_args()
    marks = sorted(float(value) for value in args.minutes.split(","))
    variants = []
    for entry in args.variant:
        if len(entry) < 3:
            parser.error(f"--variant {' '.join(entry)}: expected NAME LANG DATA [key=value ...]")
        variants.append((entry[0], entry[1], Path(entry[2]), entry[3:]))
    out = Path(args.out)
    for name, language, data, overrides in variants:  # all training first, then all evaluation
        train_variant(name, language, data, overrides, marks, out)
    recognizers: dict[str, Recognizer] = {}
    result = {name: evaluate_variant(name, language, data, marks, out, args.limit, recognizers, args.vocoder)
              for name, language, data, _ in variants}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
