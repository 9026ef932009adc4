"""`tacotron tune`: search space, objective, pruning, reproducible sampling, results, and workers
sharing one study in a real PostgreSQL server (started by the `postgres_url` fixture)."""

import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from support.overrides import FAST_OVERRIDES
from tacotron.config import ConfigError, load_config
from tacotron.monitoring.dashboards import (find_remote_studies, find_script, find_stores,
                                          start_services, stop_services, wait_until_ready)

optuna = pytest.importorskip("optuna")

from tacotron.tuning.search import (build_pruner, build_sampler, open_study,  # noqa: E402
                                      parse_space, pruner_warmup_steps, tune, tuning_objective)

# A small space that stays valid with the fast test model.
SPACE = ["train.learning_rate=log:5e-4:3e-3", "loss.guided_attention_weight=log:30:1000",
         "model.prenet_dropout=uniform:0.3:0.6", "model.reduction_factor=choice:2,3"]
TUNE_ARGS = [*FAST_OVERRIDES, f"tune.space={json.dumps(SPACE)}", "tune.pruner_warmup_steps=4"]


def test_default_space_parses_and_bad_entries_name_the_entry():
    config = load_config()
    specs = parse_space(config.tune.space, config)
    assert [spec.kind for spec in specs].count("log") == 3
    assert {spec.key for spec in specs} >= {"train.learning_rate", "train.batch_size",
                                            "model.reduction_factor", "loss.gate_pos_weight"}
    for entry, message in [
        ("train.learning_rat=log:1e-4:1e-3", "did you mean 'train.learning_rate'"),
        ("train.learning_rate=log:0:1e-3", "LOW > 0"),
        ("train.learning_rate=uniform:2:1", "LOW < HIGH"),
        ("train.batch_size=choice:a,b", "expected an integer"),
        ("train.learning_rate=normal:1:2", "expected KEY=log"),
        ("tune.seed=int:1:3", "cannot be searched"),
    ]:
        with pytest.raises(ConfigError, match="tune.space entry") as error:
            parse_space([entry], config)
        assert message in str(error.value)


def test_objective_is_mel_l1_plus_alignment_and_gate_penalties():
    config = load_config(overrides=["tune.diagonality_penalty=2", "tune.gate_penalty=0.5"])
    metrics = {"mel_l1": 0.8, "diagonality": 0.6, "gate_missed_rate": 0.25, "gate_early_rate": 0.05}
    # 0.8 + 2 * (0.9 - 0.6) + 0.5 * (0.25 + 0.05)
    assert tuning_objective(metrics, config) == pytest.approx(0.8 + 0.6 + 0.15)
    aligned = {**metrics, "diagonality": 0.95, "gate_missed_rate": 0.0, "gate_early_rate": 0.0}
    assert tuning_objective(aligned, config) == pytest.approx(0.8)
    assert tuning_objective({**metrics, "mel_l1": math.nan}, config) == math.inf


def test_intelligibility_objective_is_the_word_error_rate_of_evaluated_validations():
    config = load_config(overrides=["tune.objective=intelligibility", "eval.every_validations=2"])
    metrics = {"mel_l1": 0.8, "diagonality": 0.6, "gate_missed_rate": 0.25, "gate_early_rate": 0.05}
    assert tuning_objective({**metrics, "wer": 0.42}, config) == 0.42
    assert tuning_objective(metrics, config) is None  # a validation without an evaluation
    with pytest.raises(ConfigError, match="eval.every_validations"):
        load_config(overrides=["tune.objective=intelligibility"])


def test_pruner_waits_for_the_alignment_step_then_prunes_a_bad_trial():
    config = load_config(overrides=["tune.pruner=median", "tune.pruner_startup_trials=2",
                                    "autofix.alignment_expected_step=300"])
    assert pruner_warmup_steps(config) == 300  # default: the step alignment must have formed by
    study = optuna.create_study(pruner=build_pruner(config))
    for value in (1.0, 1.2):
        trial = study.ask()
        for step in (100, 200, 300, 400):
            trial.report(value, step)
        study.tell(trial, value)
    bad = study.ask()
    for step in (100, 200):
        bad.report(50.0, step)
        assert not bad.should_prune()  # unaligned early on is normal: never pruned before 300
    bad.report(50.0, 300)
    assert bad.should_prune()
    hyperband = load_config(overrides=["tune.pruner=hyperband", "tune.pruner_warmup_steps=250",
                                       "tune.budget_steps=3000"])
    assert build_pruner(hyperband)._min_resource == 250


def test_sampler_proposals_depend_only_on_seed_trial_number_and_history():
    def proposals(seed: int, restart_after: int | None = None) -> list[dict]:
        config = load_config(overrides=[f"tune.seed={seed}", "tune.sampler_startup_trials=2"])
        specs = parse_space(config.tune.space, config)
        study = optuna.create_study(sampler=build_sampler(config))
        seen = []
        for number in range(4):
            if number == restart_after:  # a new worker process continues the same storage
                study = optuna.load_study(study_name=study.study_name, storage=study._storage,
                                          sampler=build_sampler(config))
            trial = study.ask()
            params = {spec.key: spec.suggest(trial) for spec in specs}
            study.tell(trial, params["train.learning_rate"] * 1000)
            seen.append(params)
        return seen

    first = proposals(seed=3)
    assert proposals(seed=3) == first
    assert proposals(seed=3, restart_after=2) == first  # re-running continues, no repeats
    assert proposals(seed=4) != first
    assert len({p["train.learning_rate"] for p in first}) == 4


@pytest.mark.slow
def test_tune_writes_best_config_and_continues_the_study(corpus_en, tmp_path):
    base = load_config("cpu-tiny", overrides=[*TUNE_ARGS, "tune.budget_steps=8",
                                              "train.max_steps=5000"])
    out = tmp_path / "runs" / "tune-a"
    lines: list[str] = []
    result = tune(corpus_en, "a", base, out, trials=3, progress=False, say=lines.append)
    assert result.trained == 3
    study = optuna.load_study(study_name="a", storage=f"sqlite:///{out / 'study.db'}")
    trained = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(trained) == 3
    for trial in trained:  # each trial is a training run in its own folder, with its figures
        folder = out / trial.user_attrs["run"]
        assert (folder / "config.yaml").is_file() and list(folder.glob("checkpoints/step_*.pt"))
        assert trial.user_attrs["figures"]["step"] == (8 if trial.state.name == "COMPLETE" else 4)

    best = min((t for t in trained if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert result.best_trial == best.number and result.best_value == pytest.approx(best.value)
    tuned = load_config(path=out / "best.yaml")  # a ready config for `tacotron train --config`
    for key, value in best.params.items():
        section, name = key.split(".")
        assert getattr(getattr(tuned, section), name) == value
    assert tuned.train.max_steps == 5000  # the trial budget does not leak into the real run
    summary = (out / "summary.md").read_text()
    assert summary.count("\n| ") == 4 and f"| {best.number} * |" in summary
    importances = json.loads((out / "importances.json").read_text())
    assert set(importances) <= {key.split("=")[0] for key in SPACE}

    # The same command with a larger cap adds trials; the study is continued, not restarted.
    values = {t.number: t.value for t in trained}
    again = tune(corpus_en, "a", base, out, trials=4, progress=False, say=lines.append)
    assert again.trained == 4
    study = optuna.load_study(study_name="a", storage=f"sqlite:///{out / 'study.db'}")
    assert {t.number: t.value for t in study.trials if t.number in values} == values
    assert max(t.number for t in study.trials) == 3
    # --timeout: no new trial starts once it has passed.
    lines.clear()
    late = tune(corpus_en, "a", base, out, trials=10, timeout_seconds=1e-6, progress=False,
                say=lines.append)
    assert late.trained == 4 and any(line.startswith("timeout:") for line in lines)
    # `tacotron monitor runs` shows the study in optuna-dashboard.
    assert find_stores(tmp_path / "runs")[1] == [out / "study.db"]


def tune_command(corpus: Path, out: Path, storage: str, study: str, trials: int,
                 *extra: str) -> list[str]:
    return [sys.executable, "-m", "tacotron.cli", "tune", "--data", str(corpus), "--study",
            study, "--storage", storage, "--trials", str(trials), "--out", str(out),
            "--preset", "cpu-tiny", *TUNE_ARGS, *extra]


def trials_of(storage: str, study: str):
    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


@pytest.mark.slow
def test_two_workers_share_a_postgres_study_under_one_trial_cap(corpus_en, tmp_path, postgres_url):
    # The server trusts loopback, so any password is accepted: it must not be written anywhere.
    with_password = postgres_url.replace("postgres@", "postgres:s3cret@")
    workers = [subprocess.Popen(tune_command(corpus_en, tmp_path / f"worker{i}", with_password,
                                             "shared", 4, "--budget-steps", "20"),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    trials = trials_of(postgres_url, "shared")
    trained = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(trained) == 4  # the global cap holds although both workers asked for 4
    assert len({t.user_attrs["worker"] for t in trained}) == 2  # both did work
    # Every trial not trained was one that lost the race for the last slot and never trained.
    assert all("skipped" in t.user_attrs for t in trials if t not in trained)
    assert "s3cret" not in "".join(outputs) and "postgres:***@" in outputs[0]

    # `tacotron monitor` finds the study through the tuning folders' study.json (no password)
    # and serves it in optuna-dashboard.
    assert all("s3cret" not in path.read_text() for path in tmp_path.rglob("*.json"))
    remote = find_remote_studies(tmp_path)
    assert [label for label, _ in remote] == ["shared"]
    if find_script("optuna-dashboard"):
        services = start_services(tmp_path, tmp_path, say=lambda line: None)
        try:
            dashboards = [s for s in services if s.name == "optuna-dashboard (shared)"]
            assert len(dashboards) == 1
            assert wait_until_ready(dashboards, 120, say=lambda line: None) == []
            with urllib.request.urlopen(dashboards[0].url + "api/studies", timeout=10) as response:
                assert "shared" in response.read().decode()
        finally:
            stop_services(services)


@pytest.mark.slow
def test_a_killed_workers_trial_is_retried_from_its_checkpoint(corpus_en, tmp_path, postgres_url):
    out = tmp_path / "tune"
    beat = ["tune.heartbeat_seconds=1", "tune.grace_seconds=4"]
    victim = subprocess.Popen(tune_command(corpus_en, out, postgres_url, "retry", 1,
                                           "--budget-steps", "400", *beat),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 300
    while not list((out / "trial-0000").glob("checkpoints/step_*.pt")):  # killed mid-trial
        assert victim.poll() is None and time.monotonic() < deadline
        time.sleep(0.5)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert [t.state.name for t in trials_of(postgres_url, "retry")] == ["RUNNING"]

    rescuer = subprocess.run(tune_command(corpus_en, out, postgres_url, "retry", 1,
                                          "--budget-steps", "16", *beat),
                             capture_output=True, text=True, timeout=600)
    assert rescuer.returncode == 0, rescuer.stdout + rescuer.stderr
    first, retry = trials_of(postgres_url, "retry")
    assert first.state.name == "FAIL"
    assert retry.state.name in ("COMPLETE", "PRUNED")
    assert retry.system_attrs["failed_trial"] == 0 and retry.params == first.params
    assert retry.user_attrs["run"] == "trial-0000"  # same folder: it resumed, nothing was lost
    starts = [json.loads(line) for line in (out / "trial-0000" / "events.jsonl").open()
              if '"train_start"' in line]
    assert len(starts) == 2 and starts[1]["resumed_from"].endswith(".pt")
    assert starts[1]["step"] > 0


@pytest.mark.slow
def test_ctrl_c_saves_the_trial_and_the_same_command_continues_it(corpus_en, tmp_path):
    out = tmp_path / "tune"
    storage = f"sqlite:///{out / 'study.db'}"
    command = tune_command(corpus_en, out, storage, "ctrl-c", 1, "--budget-steps", "400")
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not list((out / "trial-0000").glob("checkpoints/step_*.pt")):
        assert worker.poll() is None and time.monotonic() < deadline
        time.sleep(0.5)
    worker.send_signal(signal.SIGINT)
    output = worker.communicate(timeout=120)[0]
    assert worker.returncode == 130, output
    assert "the same command continues it" in output
    states = [t.state.name for t in trials_of(storage, "ctrl-c")]
    assert states == ["FAIL", "WAITING"]  # interrupted, and queued with the same parameters
    saved = max(int(p.stem.split("_")[1]) for p in (out / "trial-0000").glob("checkpoints/step_*.pt"))

    again = subprocess.run(tune_command(corpus_en, out, storage, "ctrl-c", 1, "--budget-steps",
                                        str(saved + 4)), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    first, resumed = trials_of(storage, "ctrl-c")
    assert resumed.state.name == "COMPLETE" and resumed.params == first.params
    assert resumed.user_attrs["run"] == "trial-0000"
    assert resumed.user_attrs["figures"]["step"] == saved + 4  # went on from the saved step


def test_bad_storage_is_a_user_error(tmp_path):
    from tacotron.errors import UserError

    with pytest.raises(UserError, match=r"storage postgresql://u:\*\*\*@127.0.0.1:1/x"):
        open_study("s", "postgresql://u:secret@127.0.0.1:1/x", load_config())
    config = yaml.safe_load(load_config().to_yaml())
    assert "tune" in config and config["tune"]["pruner"] == "median"


def test_naturalness_weight_adds_the_mos_shortfall_to_the_word_error_rate():
    config = load_config(overrides=["tune.objective=intelligibility", "eval.every_validations=1",
                                    "tune.naturalness_weight=0.5"])
    metrics = {"mel_l1": 0.8, "diagonality": 0.6, "gate_missed_rate": 0.0, "gate_early_rate": 0.0}
    # 0.42 + 0.5 * (5 - 3) / 4: a voice at MOS 3 falls half the scale short of 5
    assert tuning_objective({**metrics, "wer": 0.42, "mos": 3.0}, config) == pytest.approx(0.67)
    assert tuning_objective({**metrics, "wer": 0.42, "mos": 5.0}, config) == pytest.approx(0.42)
    assert tuning_objective(metrics, config) is None  # not evaluated
    from tacotron.errors import UserError
    with pytest.raises(UserError, match="naturalness"):  # evaluated without DistillMOS
        tuning_objective({**metrics, "wer": 0.42}, config)
    for bad, message in [("tune.naturalness_weight=-1", ">= 0"),
                         ("tune.objective=mel", "objective=intelligibility")]:
        with pytest.raises(ConfigError, match=message):
            load_config(overrides=["tune.objective=intelligibility", "eval.every_validations=1",
                                   "tune.naturalness_weight=0.5", bad])
