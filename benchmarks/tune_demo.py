"""Does the tuner find a better config than the default in a few short CPU trials?

    flock /tmp/cpu.lock python benchmarks/tune_demo.py [--corpus data/espeak-en] [--trials 8] \
        [--budget-steps 200] [--out runs/tune-demo]

Trains the default config (cpu-tiny) for --budget-steps, then runs `tune` for --trials trials of
the same budget on the same eSpeak corpus (SQLite study in --out; a second run continues it), and
compares `tuning_objective` of the best trial with the default's. Also reports how many trials
were pruned and at which step each trial first reached diagonality 0.9 (the alignment onset that
the pruner's warm-up must not undercut). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import optuna

from tacotron.config import load_config
from tacotron.data.corpus import make_corpus
from tacotron.data.prepare import prepare
from tacotron.training.trainer import Trainer
from tacotron.tuning.search import trial_config, tune, tuning_objective

# A CPU-sized space: the parameters, with batch sizes and reduction factors the 2-core
# machine trains at about one step a second.
CPU_SPACE = [
    "train.learning_rate=log:1e-4:4e-3",
    "train.batch_size=choice:8,16",
    "model.prenet_dropout=uniform:0.3:0.6",
    "model.attention_dropout=uniform:0.0:0.2",
    "model.postnet_dropout=uniform:0.3:0.6",
    "loss.guided_attention_weight=log:10:1000",
    "loss.guided_attention_sigma=uniform:0.1:0.4",
    "loss.gate_pos_weight=log:1:20",
    "model.reduction_factor=choice:2,3",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="data/espeak-en")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--budget-steps", type=int, default=200)
    # Measured: the default config first reaches diagonality 0.9 at step 100 on this corpus
    # (benchmarks/alignment_speed.py); 150 leaves slower-aligning trials one more validation.
    parser.add_argument("--warmup-steps", type=int, default=150)
    parser.add_argument("--out", default="runs/tune-demo")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()

    corpus = Path(args.corpus)
    if not (corpus / "metadata.csv").is_file():
        make_corpus("en", corpus)
    base = load_config("cpu-tiny", overrides=[
        "train.val_every_steps=50", "train.checkpoint_every_steps=50", "train.num_threads=2",
        f"tune.budget_steps={args.budget_steps}", f"tune.pruner_warmup_steps={args.warmup_steps}",
        f"tune.space={json.dumps(CPU_SPACE)}", "monitor.tensorboard=false", *args.overrides])
    prepared = prepare(corpus, base, progress=False)
    out = Path(args.out)
    started = time.monotonic()

    default_config = trial_config(base, {})
    trainer = Trainer(default_config, prepared, out / "default", progress=False)
    default_metrics = trainer.fit()
    default_objective = tuning_objective(default_metrics, default_config)
    default_onset = next((record["step"] for record in map(
        json.loads, (out / "default" / "metrics.jsonl").read_text().splitlines())
        if record["diagonality"] >= base.schedule.quality_diagonality), None)
    print(f"default config: objective {default_objective:.4f} at step {trainer.step}",
          file=sys.stderr)

    result = tune(corpus, "tune-demo", base, out, trials=args.trials, progress=False,
                  say=lambda line: print(line, file=sys.stderr, flush=True))
    study = optuna.load_study(study_name="tune-demo", storage=result.storage)
    trained = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    onsets = {t.number: t.user_attrs.get("figures", {}).get("aligned_at_step") for t in trained}
    pruned_at = {t.number: t.user_attrs.get("figures", {}).get("step")
                 for t in trained if t.state.name == "PRUNED"}
    print(json.dumps({
        "benchmark": "tune_demo",
        "trials": len(trained),
        "pruned": result.pruned,
        "pruned_at_step": pruned_at,
        "budget_steps": args.budget_steps,
        "pruner_warmup_steps": args.warmup_steps,
        "default_objective": round(default_objective, 4),
        "default_diagonality": round(default_metrics["diagonality"], 3),
        "default_aligned_at_step": default_onset,
        "best_objective": round(result.best_value, 4) if result.best_value is not None else None,
        "best_trial": result.best_trial,
        "best_vs_default": (round(result.best_value / default_objective, 3)
                            if result.best_value is not None else None),
        "best_params": result.best_params,
        "aligned_at_step": onsets,
        "seconds": round(time.monotonic() - started, 1),
    }))


if __name__ == "__main__":
    main()
