"""`tacotron tune`: hyperparameter search with Optuna, on one machine or many.

Every trial is an ordinary training run (the one `Trainer`) of the base config with the keys of
`tune.space` sampled, in its own folder OUT/trial-NNNN, for `tune.budget_steps` steps. At every
validation it reports `tuning_objective` to the study; the pruner stops trials that are clearly
worse than the others at the same step, but never before the step by which alignment is expected
to have formed (a Tacotron's loss says little before its attention is diagonal).

The study lives in an SQLAlchemy storage: a SQLite file (OUT/study.db) by default, or a shared
database (PostgreSQL) that workers on several machines point the same command at. Workers beat a
heartbeat; a trial whose worker died is failed by the next worker that looks and run again with
the same parameters, from its last checkpoint when its folder is on that machine. `--trials N` is
a cap on the whole study (all workers, all sessions): trial k trains only if fewer than N trials
numbered below k have trained or are training, so two workers racing for the last slot cannot both
take it. Re-running the command continues the study; the sampler's randomness for trial k comes
from (tune.seed, k), so the same history gives the same proposals whichever worker asks.

At the end the worker writes OUT/best.yaml (the best trial's full config, ready for
`tacotron train --config`), OUT/summary.md (a table of all trials) and OUT/importances.json.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import os
import socket
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from tacotron.config import Config, ConfigError, set_value, validate
from tacotron.errors import UserError
from tacotron.files import atomic_write_text
from tacotron.monitoring.dashboards import STUDY_POINTER
from tacotron.training.callbacks import Callback
from tacotron.training.trainer import Trainer

DIAGONALITY, GATE_ERROR = "diagonality", "gate_error"
# The evaluation's figures (evaluation/callback.py) a trial keeps and the summary shows, when it has them.
EVALUATED = {"wer": "WER", "mos": "MOS"}


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise UserError("tuning needs Optuna: pip install 'tacotron[tune]'") from None
    return optuna


# ---------------------------------------------------------------------------- search space
@dataclass(frozen=True)
class ParamSpec:
    """One searched config key: kind is log | uniform | int | choice."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        if self.kind == "log":
            return trial.suggest_float(self.key, self.low, self.high, log=True)
        if self.kind == "uniform":
            return trial.suggest_float(self.key, self.low, self.high)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high))
        return trial.suggest_categorical(self.key, list(self.choices))


def parse_space(entries: list[str], config: Config) -> list[ParamSpec]:
    """`KEY=log:LOW:HIGH | KEY=uniform:LOW:HIGH | KEY=int:LOW:HIGH | KEY=choice:A,B,C` entries,
    checked against the config: an unknown key, a bad form or a value of the wrong type is a
    ConfigError naming the entry."""
    specs, seen = [], set()
    for entry in entries:
        where = f"tune.space entry '{entry}'"
        key, _, rule = entry.partition("=")
        kind, _, args = rule.partition(":")
        key, kind = key.strip(), kind.strip()
        if not key or kind not in ("log", "uniform", "int", "choice") or not args:
            raise ConfigError(f"{where}: expected KEY=log:LOW:HIGH, KEY=uniform:LOW:HIGH, "
                              "KEY=int:LOW:HIGH or KEY=choice:A,B,C")
        if key.startswith("tune.") or key in seen:
            raise ConfigError(f"{where}: {key} cannot be searched (a tune.* key, or listed twice)")
        seen.add(key)
        if kind == "choice":
            values = tuple(yaml.safe_load(value) for value in args.split(","))
            spec = ParamSpec(key, kind, choices=values)
            probes = values
        else:
            bounds = args.split(":")
            try:
                low, high = (float(bound) for bound in bounds)
            except ValueError:
                raise ConfigError(f"{where}: LOW and HIGH must be two numbers") from None
            if not low < high or (kind == "log" and low <= 0):
                raise ConfigError(f"{where}: needs LOW < HIGH (and LOW > 0 for log)")
            if kind == "int" and not (low.is_integer() and high.is_integer()):
                raise ConfigError(f"{where}: int bounds must be whole numbers")
            spec = ParamSpec(key, kind, low, high)
            probes = (int(low), int(high)) if kind == "int" else (low, high)
        probe = copy.deepcopy(config)
        for value in probes:  # the key exists and takes values of this kind
            try:
                set_value(probe, key, value)
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}") from None
        specs.append(spec)
    return specs


def trial_config(base: Config, params: dict[str, Any]) -> Config:
    """The base config with the sampled values and the trial's step budget."""
    config = copy.deepcopy(base)
    for key, value in params.items():
        set_value(config, key, value)
    config.train.max_steps = base.tune.budget_steps
    validate(config)
    return config


# ---------------------------------------------------------------------------- objective
def gate_error(metrics: dict[str, float]) -> float:
    """Share of validation utterances whose gate stops wrongly:
    gate_error = gate_missed_rate + gate_early_rate (never fires / fires before the end)."""
    return metrics["gate_missed_rate"] + metrics["gate_early_rate"]


def naturalness_shortfall(mos: float) -> float:
    """How far a predicted MOS (1..5, evaluation/naturalness.py) falls short of the scale's top,
    as a share of the scale: (5 - mos) / 4, 0 at MOS 5 and 1 at MOS 1, like a word error rate
    a rate to minimise."""
    return (5.0 - mos) / 4.0


def tuning_objective(metrics: dict[str, float], config: Config) -> float | None:
    """What a trial minimises, from one validation:
    objective = mel_l1 + w_d * max(0, d* - diagonality) + w_g * gate_error,
    with d* = schedule.quality_diagonality (0.9: the one "aligned" threshold of the phases and the
    auto-fix), w_d = tune.diagonality_penalty, w_g = tune.gate_penalty. A non-finite mel L1 (a
    diverged run) gives +inf. With tune.objective=intelligibility:
    objective = wer + w_n * naturalness_shortfall(mos), the validation's Whisper word error rate
    and the voice's predicted MOS on the same sentences (evaluation/callback.py), w_n =
    tune.naturalness_weight (0: the WER alone); None for a validation that was not evaluated."""
    if config.tune.objective == "intelligibility":
        if "wer" not in metrics:
            return None
        weight = config.tune.naturalness_weight
        if weight == 0:
            return metrics["wer"]
        if "mos" not in metrics:
            raise UserError("tune.naturalness_weight needs the predicted MOS of the evaluation, which "
                            "needs DistillMOS: pip install 'tacotron[naturalness]'")
        return metrics["wer"] + weight * naturalness_shortfall(metrics["mos"])
    mel_l1 = metrics["mel_l1"]
    if not math.isfinite(mel_l1):
        return math.inf
    shortfall = max(0.0, config.schedule.quality_diagonality - metrics[DIAGONALITY])
    return (mel_l1 + config.tune.diagonality_penalty * shortfall
            + config.tune.gate_penalty * gate_error(metrics))


# ---------------------------------------------------------------------------- sampler, pruner
def pruner_warmup_steps(config: Config) -> int:
    """tune.pruner_warmup_steps, or (0) autofix.alignment_expected_step."""
    return config.tune.pruner_warmup_steps or config.autofix.alignment_expected_step


def build_pruner(config: Config):
    optuna = require_optuna()
    warmup = pruner_warmup_steps(config)
    if config.tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=config.tune.pruner_startup_trials,
                                           n_warmup_steps=warmup)
    if config.tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(warmup, 1),
                                              max_resource=config.tune.budget_steps)
    return optuna.pruners.NopPruner()


def build_sampler(config: Config):
    """TPE whose random state for trial k is seeded from (tune.seed, k): a worker started later,
    or another worker, proposes what an uninterrupted single worker would have."""
    optuna = require_optuna()

    class TrialSeededSampler(optuna.samplers.BaseSampler):
        def __init__(self, seed: int, startup_trials: int):
            self.seed, self.startup_trials = seed, startup_trials
            self.inner = self.for_trial(0)

        def for_trial(self, number: int):
            return optuna.samplers.TPESampler(seed=self.seed * 1_000_003 + number,
                                              n_startup_trials=self.startup_trials,
                                              constant_liar=True)

        def before_trial(self, study, trial):
            self.inner = self.for_trial(trial.number)
            self.inner.before_trial(study, trial)

        def infer_relative_search_space(self, study, trial):
            return self.inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self.inner.sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self.inner.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(self, study, trial, state, values):
            self.inner.after_trial(study, trial, state, values)

    return TrialSeededSampler(config.tune.seed, config.tune.sampler_startup_trials)


def open_study(name: str, storage_url: str, config: Config):
    """Create or continue the study `name` in `storage_url`, with heartbeats and retries."""
    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the tuner prints its own lines
    # Heartbeats are marked experimental since Optuna 2.9; the feature is what this module needs.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    tune = config.tune
    try:
        for attempt in range(5):
            try:
                storage = optuna.storages.RDBStorage(
                    with_driver(storage_url), heartbeat_interval=tune.heartbeat_seconds,
                    grace_period=tune.grace_seconds,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=tune.max_retries))
                return optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                           direction="minimize", sampler=build_sampler(config),
                                           pruner=build_pruner(config))
            except Exception as error:
                # Workers started together race to create the tables and the study: the loser's
                # insert violates a unique key, and its next attempt finds what the winner made.
                if type(error).__name__ != "IntegrityError" or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
    except ImportError as error:  # a database driver (psycopg2 for PostgreSQL)
        raise UserError(f"storage {redact(storage_url)}: {error}") from None
    except Exception as error:  # SQLAlchemy: unreachable server, bad URL, wrong password
        if type(error).__module__.startswith(("sqlalchemy", "optuna")):
            raise UserError(f"storage {redact(storage_url)}: {type(error).__name__}: "
                            f"{str(error).splitlines()[0]}") from None
        raise


def with_driver(url: str) -> str:
    """A plain postgresql:// URL names the PostgreSQL driver that is installed (psycopg 3, else
    psycopg2), since SQLAlchemy's own default differs between its versions."""
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    for module, dialect in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"{dialect}://{url.split('://', 1)[1]}"
    raise UserError("a PostgreSQL storage needs a driver: pip install 'tacotron[tune]'")


def replace_password(url: str, replacement: str | None) -> str:
    """The storage URL with its password replaced by `replacement` (None: removed, for files;
    the driver then reads PGPASSWORD). A URL without a password is returned as it is."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":")[0]
    return f"{scheme}{sep}{user}{'' if replacement is None else ':' + replacement}@{host}"


def redact(url: str) -> str:
    """The storage URL with its password as ***, for messages."""
    return replace_password(url, "***")


# ---------------------------------------------------------------------------- one trial
class TrialReporter(Callback):
    """Reports the objective at every validation, keeps the trial's figures as user attributes
    (so a pruned trial still shows them) and stops the run when the pruner says so."""

    def __init__(self, trial, config: Config):
        self.trial, self.config = trial, config
        self.aligned_at: int | None = None
        self.value: float | None = None  # the newest objective reported

    def on_validation_end(self, trainer, metrics, sample) -> None:
        value = tuning_objective(metrics, self.config)
        if value is None:  # tune.objective=intelligibility and this validation was not evaluated
            return
        self.value = value
        if (self.aligned_at is None
                and metrics[DIAGONALITY] >= self.config.schedule.quality_diagonality):
            self.aligned_at = trainer.step
        self.trial.report(storable(value), trainer.step)
        self.trial.set_user_attr("figures", {
            "step": trainer.step, "objective": value, "mel_l1": metrics["mel_l1"],
            DIAGONALITY: metrics[DIAGONALITY], GATE_ERROR: gate_error(metrics),
            "aligned_at_step": self.aligned_at,
            **{key: metrics[key] for key in EVALUATED if key in metrics}})
        if self.trial.should_prune():
            trainer.emit("pruned", objective=value, warmup_steps=pruner_warmup_steps(self.config))
            trainer.request_stop("pruned")


def storable(value: float) -> float:
    """The objective as the study stores it: a diverged trial's +inf becomes the largest float
    (a storage cannot hold inf, and it still ranks last)."""
    return value if math.isfinite(value) else sys.float_info.max


class CapReached(Exception):
    """The study already holds its global number of trials (this trial never trains)."""


TRAINED_STATES = ("COMPLETE", "PRUNED")


def trial_states(study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def within_cap(study, number: int, cap: int) -> bool:
    """Trial `number` may train when fewer than `cap` trials numbered below it have trained or
    are training (numbers are handed out by the storage, so concurrent workers agree)."""
    holders = [trial for trial in study.get_trials(deepcopy=False)
               if trial.number < number and trial.state.name in (*TRAINED_STATES, "RUNNING")]
    return len(holders) < cap


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------------------- the tuner
@dataclass
class TuneResult:
    study_name: str
    storage: str
    trained: int  # trials that trained to completion or were pruned, in the whole study
    pruned: int
    best_value: float | None
    best_params: dict[str, Any]
    best_trial: int | None
    summary: str


def tune(data_dir: str | Path, study_name: str, base: Config, out: str | Path,
         trials: int, storage: str | None = None, timeout_seconds: float = 0.0,
         progress: bool = True, say: Callable[[str], None] = print,
         trial_callbacks: Callable[[Config], list[Callback]] | None = None) -> TuneResult:
    """Run trials of the study until it holds `trials` trained trials (from any worker) or
    `timeout_seconds` pass (no new trial starts after it); then write the results to `out`.
    `trial_callbacks(config)`: the callbacks of a trial run besides the tuner's own reporter (the
    CLI passes evaluation.callback.run_callbacks: the sinks and the intelligibility evaluation,
    whose figures tune.objective=intelligibility reads; evaluation/ sits above tuning/, so it is
    handed in); default: the monitoring sinks alone."""
    optuna = require_optuna()
    from tacotron.data.prepare import prepare
    from tacotron.monitoring.sinks import build_callbacks

    trial_callbacks = trial_callbacks or build_callbacks
    if trials < 1:
        raise UserError("--trials must be at least 1")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if storage and not storage.startswith("sqlite"):
        # Where `tacotron monitor` finds a study on a database server (SQLite files it finds).
        atomic_write_text(out / STUDY_POINTER, json.dumps(
            {"study": study_name, "storage": replace_password(with_driver(storage), None)}))
    storage = storage or f"sqlite:///{out / 'study.db'}"
    specs = parse_space(base.tune.space, base)
    if not specs:
        raise UserError("tune.space is empty: nothing to search")
    prepared = prepare(data_dir, base, progress=progress)
    if base.text.language == "auto":
        base.text.language = prepared.language
    study = open_study(study_name, storage, base)
    warmup = pruner_warmup_steps(base)
    done = sum(trial_states(study).get(state, 0) for state in TRAINED_STATES)
    say(f"study '{study_name}' in {redact(storage)}: {done} of {trials} trials done; "
        f"{len(specs)} parameters, {base.tune.budget_steps} steps a trial, "
        f"pruner {base.tune.pruner} from step {warmup}")
    if base.tune.pruner != "none" and warmup >= base.tune.budget_steps:
        say(f"note: the pruner's warm-up ({warmup} steps) is not below the budget "
            f"({base.tune.budget_steps}): no trial will be pruned")

    def objective(trial) -> float:
        if not within_cap(study, trial.number, trials):
            trial.set_user_attr("skipped", "the study's trial cap was reached by other workers")
            raise CapReached()
        params = {spec.key: spec.suggest(trial) for spec in specs}
        try:
            config = trial_config(base, params)
        except ConfigError as error:  # e.g. a sampled value that breaks a cross-field rule
            trial.set_user_attr("error", str(error))
            raise
        run_name = trial.user_attrs.get("run") or f"trial-{trial.number:04d}"  # retries: same
        trial.set_user_attr("run", run_name)
        trial.set_user_attr("worker", worker_name())
        say(f"trial {trial.number} ({run_name}): "
            + ", ".join(f"{key}={format_value(value)}" for key, value in params.items()))
        reporter = TrialReporter(trial, config)
        try:
            trainer = Trainer(config, prepared, out / run_name,
                              callbacks=[*trial_callbacks(config), reporter], progress=progress)
            metrics = trainer.fit()
            if trainer.finished_reason == "interrupted":  # Ctrl-C: the trainer has saved
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            # The same parameters (and folder) wait for the next run of the command.
            study.enqueue_trial(params, user_attrs={"run": run_name})
            say(f"trial {trial.number} is saved in {run_name}; the same command continues it")
            raise
        except Exception as error:
            trial.set_user_attr("error", f"{type(error).__name__}: {error}")
            raise
        value = tuning_objective(metrics, config)
        if value is None:  # intelligibility: the last evaluated validation's WER
            value = reporter.value if reporter.value is not None else math.inf
        if trainer.finished_reason == "pruned":
            say(f"trial {trial.number} pruned at step {trainer.step} (objective {value:.4f})")
            raise optuna.TrialPruned()
        say(f"trial {trial.number} finished at step {trainer.step}: objective {value:.4f} "
            f"(mel L1 {metrics['mel_l1']:.4f}, diagonality {metrics[DIAGONALITY]:.3f}, "
            f"gate error {gate_error(metrics):.3f})")
        return storable(value)

    started = time.monotonic()
    failures_in_a_row = 0
    waiting_said = False
    while True:
        optuna.storages.fail_stale_trials(study)  # a dead worker's trial is failed and re-queued
        states = trial_states(study)
        trained = sum(states.get(s, 0) for s in TRAINED_STATES)
        if trained >= trials:
            break
        if timeout_seconds and time.monotonic() - started >= timeout_seconds:
            say(f"timeout: {timeout_seconds:.0f} s passed, no new trial is started")
            break
        if trained + states.get("RUNNING", 0) >= trials and not states.get("WAITING", 0):
            # The last trials are running elsewhere: wait, and take over one whose worker dies.
            if not waiting_said:
                say(f"waiting: {states.get('RUNNING', 0)} trials run on other workers "
                    f"(a trial silent for {base.tune.grace_seconds} s is taken over)")
                waiting_said = True
            time.sleep(min(base.tune.heartbeat_seconds, 10))
            continue
        waiting_said = False
        try:
            study.optimize(objective, n_trials=1, catch=(Exception,))
        except KeyboardInterrupt:
            say("interrupted: run the same command to continue the study")
            raise
        last = max(study.get_trials(deepcopy=False), key=lambda t: t.number)
        if last.state.name == "FAIL" and "skipped" not in last.user_attrs:
            failures_in_a_row += 1
            say(f"trial {last.number} failed: {last.user_attrs.get('error', 'see the log above')}")
            if failures_in_a_row >= 3:
                raise UserError(f"3 trials in a row failed; the last: "
                                f"{last.user_attrs.get('error', 'unknown error')}")
        elif last.state.name != "FAIL":
            failures_in_a_row = 0
    return write_results(study, base, out, storage, say)


def format_value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------- results
def write_results(study, base: Config, out: Path, storage: str,
                  say: Callable[[str], None] = print) -> TuneResult:
    """OUT/summary.md, OUT/best.yaml and OUT/importances.json from all trials of the study."""
    optuna = require_optuna()
    all_trials = study.get_trials(deepcopy=False)
    trained = [t for t in all_trials if t.state.name in TRAINED_STATES]
    complete = [t for t in trained if t.state.name == "COMPLETE"]
    best = min(complete, key=lambda t: t.value) if complete else None
    importances: dict[str, float] = {}
    if len(complete) >= 2:
        try:
            importances = {key: float(value) for key, value in
                           optuna.importance.get_param_importances(study).items()}
        except (RuntimeError, ValueError) as error:  # e.g. every trial had the same values
            say(f"note: no parameter importances ({error})")
    atomic_write_text(out / "importances.json", json.dumps(importances, indent=2))
    if best is not None:
        config = trial_config(base, best.params)
        config.train.max_steps = base.train.max_steps  # the trial budget was for the search only
        header = [f"# Best trial {best.number} of study '{study.study_name}': objective "
                  f"{best.value:.4f} at step {base.tune.budget_steps}.",
                  "# Tuned: " + ", ".join(f"{k}={format_value(v)}" for k, v in best.params.items()),
                  "# Train with: tacotron train --data DATA_DIR --out runs/NAME --config THIS_FILE"]
        atomic_write_text(out / "best.yaml", "\n".join(header) + "\n" + config.to_yaml())
    summary = summary_table(study.study_name, all_trials, best, importances)
    atomic_write_text(out / "summary.md", summary)
    say(summary)
    pruned = sum(t.state.name == "PRUNED" for t in trained)
    return TuneResult(study.study_name, storage, len(trained), pruned,
                      best.value if best else None, dict(best.params) if best else {},
                      best.number if best else None, summary)


def summary_table(name: str, trials, best, importances: dict[str, float]) -> str:
    keys = sorted({key for trial in trials for key in trial.params})
    evaluated = [key for key in EVALUATED
                 if any(key in trial.user_attrs.get("figures", {}) for trial in trials)]
    head = ["trial", "state", "objective", "step", "mel L1", "diagonality", "gate error",
            "aligned at", *(EVALUATED[key] for key in evaluated), *keys]
    rows = []
    for trial in sorted(trials, key=lambda t: t.number):
        if "skipped" in trial.user_attrs:
            continue
        figures = trial.user_attrs.get("figures", {})
        state = trial.state.name.lower()
        if trial.state.name == "FAIL":
            state = "failed" if "error" in trial.user_attrs else "worker died"
        value = trial.value if trial.value is not None else figures.get("objective")

        def cell(x):
            return "" if x is None else format_value(x) if isinstance(x, float) else str(x)

        rows.append([f"{trial.number}{' *' if best is not None and trial.number == best.number else ''}",
                     state, cell(value), cell(figures.get("step")), cell(figures.get("mel_l1")),
                     cell(figures.get(DIAGONALITY)), cell(figures.get(GATE_ERROR)),
                     cell(figures.get("aligned_at_step")), *[cell(figures.get(key)) for key in evaluated],
                     *[cell(trial.params.get(key)) for key in keys]])
    lines = [f"# Study '{name}'", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if best is not None:
        lines += ["", f"Best: trial {best.number}, objective {best.value:.4f} (* above)."]
    if importances:
        lines += ["", "Parameter importance (fANOVA): " + ", ".join(
            f"{key} {value:.2f}" for key, value in importances.items())]
    return "\n".join(lines) + "\n"
