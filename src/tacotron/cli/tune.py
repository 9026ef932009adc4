"""`tacotron tune`: a hyperparameter search whose trials are training runs (tacotron.tuning)."""

from __future__ import annotations

from pathlib import Path

from tacotron.cli.arguments import Default, HelpText, add_config_arguments, config_from_args, only_given


def add_command(commands) -> None:
    tune = commands.add_parser("tune", help="search hyperparameters (Optuna); several "
                               "workers may run it against one --storage")
    tune.add_argument("--data", required=True)
    tune.add_argument("--study", required=True, help="study name (re-running continues it)")
    tune.add_argument("--storage", help="SQLAlchemy URL, e.g. postgresql://user:pw@host/db "
                      "(default: sqlite:///OUT/study.db)")
    # tune() takes the number of trials from its caller: this is the one default.
    tune.add_argument("--trials", type=int, default=20,
                      help="trials in the whole study, across all workers (default %(default)s)")
    tune.add_argument("--timeout", type=float, help="seconds after which no trial starts")
    tune.add_argument("--budget-steps", type=int, help=HelpText(
        "training steps a trial (default tune.budget_steps: {})",
        Default("tacotron.config", "TuneConfig", "budget_steps")))
    tune.add_argument("--out", help="folder of the trials and results (default runs/tune-STUDY)")
    add_config_arguments(tune)
    tune.set_defaults(run=run)


def run(args) -> None:
    from tacotron.evaluation.callback import run_callbacks
    from tacotron.tuning.search import tune

    extra = [f"tune.budget_steps={args.budget_steps}"] if args.budget_steps else []
    config = config_from_args(args, extra)
    if config.tune.naturalness_weight > 0:
        from tacotron.errors import UserError
        from tacotron.evaluation.naturalness import INSTALL, naturalness_available

        if not naturalness_available():  # before any trial trains, not at its first evaluation
            raise UserError(f"tune.naturalness_weight needs DistillMOS for the predicted MOS: {INSTALL}")
    out = args.out or str(Path("runs") / f"tune-{args.study}")
    result = tune(args.data, args.study, config, out, trials=args.trials, storage=args.storage,
                  say=lambda line: print(line, flush=True),
                  trial_callbacks=lambda trial_config: run_callbacks(trial_config, args.data),
                  **only_given(timeout_seconds=args.timeout))
    if result.best_trial is not None:
        print(f"best config: {Path(out) / 'best.yaml'}   table: {Path(out) / 'summary.md'}")
