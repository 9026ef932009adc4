"""Watching a run: Telegram against a local Bot-API server, the delivery worker, alert events,
MLflow against a real SQLite store, `tacotron status` while a run trains."""

import io
import json
import logging
import socket
import threading
import time

import pytest
import soundfile

from tacotron.data.prepare import prepare
from tacotron.config import MonitorConfig
from tacotron.errors import UserError
from bot_server import RecordingBotServer
from tacotron.monitoring.delivery import MAX_BACKOFF_SECONDS, DeliveryWorker, backoff_seconds
from tacotron.monitoring.sinks import build_callbacks
from tacotron.training.eta import eta_seconds
from tacotron.monitoring.telegram import AlertGate
from tacotron.training.controller import Controller
from tacotron.training.schedules import Controls
from tacotron.training.callbacks import Callback
from tacotron.training.trainer import Trainer

TOKEN = "987654:SECRET-test-token-do-not-log"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MONITOR = MonitorConfig()  # the defaults (config.py)


def train(config, corpus, run_dir, extra=()):
    callbacks = [*build_callbacks(config), *extra]
    trainer = Trainer(config, prepare(corpus, config, progress=False), run_dir, callbacks=callbacks,
                      progress=False)
    trainer.fit()
    return trainer


@pytest.fixture()
def telegram_env(monkeypatch):
    def point_at(url):
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_CHAT_ID", "4242")
        monkeypatch.setenv("TELEGRAM_API_URL", url)

    return point_at


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the probe is closed


class EmitAt(Callback):
    """Emits events at given steps, as the training-intelligence controller would."""

    def __init__(self, plan):
        self.plan = plan

    def on_step_end(self, trainer, logs):
        for kind, fields in self.plan.get(trainer.step, []):
            trainer.emit(kind, **fields)


def assert_no_token(tmp_path, caplog, capsys):
    out = capsys.readouterr()
    assert TOKEN not in caplog.text and TOKEN not in out.out + out.err
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".yaml", ".txt", ".log"):
            assert TOKEN not in path.read_text(errors="replace"), path


@pytest.mark.slow
def test_telegram_gets_start_cards_photo_audio_alerts_and_finish(
        corpus_en, fast_config, tmp_path, telegram_env, caplog, capsys):
    caplog.set_level(logging.INFO)
    plan = {3: [("autofix", {"rule": "raise_guided_weight", "observed": {"diagonality": 0.21},
                             "action": "raise guided-attention weight", "before": 30, "after": 60}),
                ("phase", {"from": "pre_alignment", "to": "alignment_learning",
                           "reason": "step >= 3"})],
            5: [("alert", {"rule": "exploding_gradient", "message": "grad norm 1e4"})] * 5
               + [("autofix", {"rule": "raise_guided_weight", "observed": {"diagonality": 0.3},
                               "action": "raise guided-attention weight", "before": 60,
                               "after": 120})]}
    with RecordingBotServer() as server:
        telegram_env(server.url)
        config = fast_config("train.max_steps=8", "monitor.telegram=true",
                             "monitor.tensorboard=false")
        trainer = train(config, corpus_en, tmp_path / "run", extra=[EmitAt(plan)])
        requests = server.received()
    methods = [r.method for r in requests]
    assert {r.token for r in requests} == {TOKEN}
    assert {r.fields["chat_id"] for r in requests} == {"4242"}
    start, finish = requests[0], requests[-1]
    assert start.method == "sendMessage" and "started on cpu" in start.fields["text"]
    assert f"({len(trainer.data.train)} utterances, en)" in start.fields["text"]
    assert finish.method == "sendMessage" and "finished: max_steps at step 8" in finish.fields["text"]
    assert "4 repeated alert(s)" in finish.fields["text"]  # 5 alerts -> 1 sent, 4 held back

    photos, audios = server.received("sendPhoto"), server.received("sendAudio")
    assert len(photos) == 2 and len(audios) == 2  # a card at each validation (steps 4 and 8)
    for photo, step in zip(photos, (4, 8)):
        assert photo.fields["caption"].startswith(f"📈 <b>run</b> step {step}")
        assert "diagonality" in photo.fields["caption"] and "loss" in photo.fields["caption"]
        filename, content_type, data = photo.files["photo"]
        assert content_type == "image/png" and data[:8] == PNG_MAGIC
        from PIL import Image

        width, height = Image.open(io.BytesIO(data)).size
        assert width >= 200 and height >= 40
    for audio in audios:
        filename, content_type, data = audio.files["audio"]
        assert filename.endswith(".wav") and data[:4] == b"RIFF" and data[8:12] == b"WAVE"
        waveform, rate = soundfile.read(io.BytesIO(data))
        assert rate == 22050 and len(waveform) > 0
    texts = [r.fields["text"] for r in requests if r.method == "sendMessage"]
    autofix = [t for t in texts if "auto-fix" in t]
    # Every auto-fix action is told (the controller limits them itself), even within the cooldown.
    assert len(autofix) == 2 and "raise_guided_weight" in autofix[0] and "30 → 60" in autofix[0]
    assert "diagonality=0.21" in autofix[0] and "60 → 120" in autofix[1]
    assert sum("phase pre_alignment → <b>alignment_learning</b>" in t for t in texts) == 1
    assert sum("exploding_gradient" in t for t in texts) == 1
    assert methods.index("sendPhoto") > methods.index("sendMessage")
    assert_no_token(tmp_path, caplog, capsys)


@pytest.mark.slow
def test_telegram_finish_carries_the_last_picture_when_no_card_showed_it(
        corpus_en, fast_config, tmp_path, telegram_env):
    with RecordingBotServer() as server:
        telegram_env(server.url)
        config = fast_config("train.max_steps=6", "monitor.telegram=true",
                             "monitor.tensorboard=false", "monitor.telegram_send_audio=false")
        train(config, corpus_en, tmp_path / "run")
        requests = server.received()
    assert [r.method for r in requests] == ["sendMessage", "sendPhoto", "sendPhoto", "sendMessage"]
    assert requests[1].fields["caption"].startswith("📈 <b>run</b> step 4")
    assert requests[2].fields["caption"].startswith("📈 <b>run</b> step 6")
    assert "(step 6)" in requests[2].fields["caption"]  # the final validation's metrics
    assert requests[2].files["photo"][2][:8] == PNG_MAGIC
    assert requests[3].fields["text"].startswith("✅ <b>run</b> finished: max_steps at step 6")


@pytest.mark.slow
def test_telegram_crash_alert_carries_the_traceback_tail(corpus_en, fast_config, tmp_path,
                                                         telegram_env):
    class Boom(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.step == 3:
                raise RuntimeError("disk <full> & gone")

    with RecordingBotServer() as server:
        telegram_env(server.url)
        config = fast_config("train.max_steps=8", "monitor.telegram=true",
                             "monitor.tensorboard=false")
        with pytest.raises(RuntimeError, match="disk"):
            train(config, corpus_en, tmp_path / "run", extra=[Boom()])
        texts = [r.fields["text"] for r in server.received("sendMessage")]
    assert len(texts) == 2 and "started" in texts[0]  # no card before step 4, no finish message
    crash = texts[1]
    assert crash.startswith("💥 <b>run</b> step 3: crashed")
    assert "RuntimeError: disk &lt;full&gt; &amp; gone" in crash  # escaped for parse_mode=HTML
    assert "<pre>" in crash and "in on_step_end" in crash and crash.endswith("</pre>")


@pytest.mark.slow
def test_telegram_server_down_training_finishes_with_one_warning(
        corpus_en, fast_config, tmp_path, telegram_env, caplog, capsys):
    telegram_env(closed_port_url())
    config = fast_config("train.max_steps=8", "monitor.telegram=true", "monitor.tensorboard=false",
                         "monitor.retry_backoff_seconds=0.05", "monitor.retry_attempts=3")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tacotron.monitor"):
        trainer = train(config, corpus_en, tmp_path / "run")
    assert trainer.step == 8 and trainer.finished_reason == "max_steps"
    assert time.monotonic() - started < 120
    failures = [r.getMessage() for r in caplog.records if "failed (" in r.getMessage()]
    assert len(failures) == 1 and failures[0].startswith("telegram: start message failed")
    assert "Connection refused" in failures[0] or "ConnectionError" in failures[0]
    assert any("0 message(s) delivered" in r.getMessage() for r in caplog.records)
    assert_no_token(tmp_path, caplog, capsys)


@pytest.mark.slow
def test_telegram_rejected_token_is_one_warning_and_redacted(tmp_path, telegram_env, caplog):
    from tacotron.config import MonitorConfig
    from tacotron.monitoring.telegram import BotApi

    with RecordingBotServer(fail_with=401) as server:
        bot = BotApi(TOKEN, "1", server.url)
        worker = DeliveryWorker("telegram", MONITOR.queue_size, attempts=3, backoff=0.01,
                                redact=bot.redact)
        with caplog.at_level(logging.WARNING, logger="tacotron.monitor"):
            for number in range(3):
                worker.submit(f"message {number}", lambda: bot.send_message(f"hi {TOKEN}"))
            worker.close(timeout=10)
        assert server.methods() == ["sendMessage"] * 3  # 401 is not retried
    assert worker.failed == 3 and worker.delivered == 0
    assert sum("failed (" in r.getMessage() for r in caplog.records) == 1
    assert "PermanentError: sendMessage: HTTP 401" in caplog.text and TOKEN not in caplog.text
    assert MonitorConfig().telegram is False  # opt-in


def test_missing_telegram_credentials_fail_before_training(fast_config, monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "1")
    with pytest.raises(UserError, match="TELEGRAM_BOT_TOKEN"):
        build_callbacks(fast_config("monitor.telegram=true"))
    names = [type(c).__name__ for c in build_callbacks(fast_config())]
    assert names == ["TensorBoardLogger", "ProgressFile"]  # alerts: the controller's rules


def test_delivery_queue_is_bounded_and_never_blocks():
    taken, release = threading.Event(), threading.Event()
    released = []  # whether the first job ended by release (True) or by its own timeout (False)
    delivered = []

    def blocking():
        taken.set()
        released.append(release.wait(30))

    worker = DeliveryWorker("test", queue_size=3, attempts=1, backoff=MONITOR.retry_backoff_seconds)
    worker.submit("blocking", blocking)
    assert taken.wait(30)  # the worker has taken the first job and waits inside it
    for number in range(10):
        worker.submit(f"job {number}", lambda number=number: delivered.append(number))
    # The submits returned while the worker was still held inside the first job: had one waited for
    # the worker, the job would have ended by its timeout first. No clock decides this.
    release.set()
    worker.close(timeout=30)
    assert released == [True]
    assert delivered == [7, 8, 9] and worker.dropped == 7 and worker.delivered == 4


def test_delivery_retries_with_backoff_then_succeeds():
    calls = []

    def flaky():
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError("down")

    worker = DeliveryWorker("test", MONITOR.queue_size, attempts=4, backoff=0.1)
    worker.submit("flaky", flaky)
    deadline = time.monotonic() + 60  # a safety net only: the loop ends at the delivery
    while not worker.delivered and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.close(timeout=5)  # (closing while failing would cut retries short, on purpose)
    assert len(calls) == 3 and worker.delivered == 1 and worker.failed == 0
    # 0.1 s, then 0.2 s. Only lower bounds: a wait never ends early, but a loaded machine can
    # stretch it by any amount. The schedule itself is test_backoff_doubles_up_to_its_cap's.
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19, gaps


def test_backoff_doubles_up_to_its_cap():
    assert [backoff_seconds(attempt, 0.1) for attempt in (1, 2, 3)] == pytest.approx([0.1, 0.2, 0.4])
    assert backoff_seconds(30, 5.0) == MAX_BACKOFF_SECONDS


def test_alert_gate_holds_repeats_within_cooldown():
    now = [0.0]
    gate = AlertGate(cooldown=60, clock=lambda: now[0])
    assert gate.admit(("alert", "nan")) == (True, 0)
    assert gate.admit(("alert", "nan")) == (False, 0)
    assert gate.admit(("alert", "other")) == (True, 0)
    now[0] = 30.0
    assert gate.admit(("alert", "nan")) == (False, 0)
    assert gate.total_held() == 2
    now[0] = 61.0
    assert gate.admit(("alert", "nan")) == (True, 2)


def test_health_alerts_nan_once_per_streak_and_alignment_rules(fast_config):
    config = fast_config("schedule.quality_diagonality=0.5", "autofix.alignment_expected_step=300")
    controller, controls = Controller(config), Controls.initial(config)
    alerts = []
    for step, loss in enumerate([1.0, float("nan"), float("nan"), 0.9, float("inf")], 1):
        actions = controller.after_step(step, {"total": loss, "grad_norm": 1.0}, controls)
        alerts += [(step, a.rule) for a in actions if a.kind == "alert"]
    assert alerts == [(2, "nan_loss"), (5, "nan_loss")]
    alerts.clear()
    for step, diagonality in [(100, 0.2), (300, 0.3), (400, 0.3), (500, 0.8), (600, 0.4),
                              (700, 0.3)]:
        actions = controller.alignment_rule(step, {"diagonality": diagonality}, controls)
        alerts += [(step, a.rule) for a in actions if a.kind == "alert"]
    assert alerts == [(300, "alignment_not_formed"), (600, "alignment_lost")]


def test_eta_is_capped_by_time_budget():
    assert eta_seconds(100, 1100, 50.0, 0.0, 2.0) == (500.0, 1100)
    assert eta_seconds(100, 1100, 50.0, 250.0, 2.0) == (200.0, 500)
    assert eta_seconds(100, 1100, 50.0, 0.0, None) == (None, None)


@pytest.mark.slow
def test_mlflow_run_holds_params_metrics_artifacts_and_resumes(corpus_en, fast_config, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "run"
    overrides = ["monitor.mlflow=true", "monitor.tensorboard=false", "monitor.flush_seconds=180"]
    train(fast_config("train.max_steps=8", *overrides), corpus_en, run_dir)
    saved = json.loads((run_dir / "mlflow_run.json").read_text())
    assert saved["tracking_uri"] == f"sqlite:///{(run_dir / 'mlflow.db').resolve()}"
    client = MlflowClient(saved["tracking_uri"])
    run = client.get_run(saved["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["train.batch_size"] == "4"
    assert run.data.params["model.prenet_dims"] == "[32, 32]"
    assert run.data.params["loss.guided_attention_weight"] == "300.0"
    history = client.get_metric_history(run.info.run_id, "train/total")
    assert [m.step for m in history] == [2, 4, 6, 8]
    assert all(m.value > 0 for m in history)
    val = client.get_metric_history(run.info.run_id, "val/diagonality")
    assert [m.step for m in val] == [4, 8] and all(0 <= m.value <= 1 for m in val)
    metrics_file = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    mel = client.get_metric_history(run.info.run_id, "val/mel_l1")
    assert [m.value for m in mel] == pytest.approx([r["mel_l1"] for r in metrics_file])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"alignment", "audio", "checkpoints", "config.yaml", "events.jsonl",
            "metrics.jsonl"} <= artifacts
    pictures = [a.path for a in client.list_artifacts(run.info.run_id, "alignment")]
    assert pictures == ["alignment/step_0000004.png", "alignment/step_0000008.png"]
    local = client.download_artifacts(run.info.run_id, "alignment/step_0000008.png", str(tmp_path))
    assert open(local, "rb").read(8) == PNG_MAGIC
    sounds = [a.path for a in client.list_artifacts(run.info.run_id, "audio")]
    assert sounds == ["audio/step_0000004.wav", "audio/step_0000008.wav"]
    checkpoints = {a.path: a.file_size for a in client.list_artifacts(run.info.run_id, "checkpoints")}
    best = run_dir / "checkpoints/best.pt"
    assert checkpoints["checkpoints/best.pt"] == best.stat().st_size

    # A restart with a longer budget continues the same MLflow run.
    train(fast_config("train.max_steps=12", *overrides), corpus_en, run_dir)
    assert json.loads((run_dir / "mlflow_run.json").read_text())["run_id"] == saved["run_id"]
    runs = client.search_runs([run.info.experiment_id])
    assert [r.info.run_id for r in runs] == [saved["run_id"]]
    resumed = client.get_run(saved["run_id"])
    assert resumed.info.status == "FINISHED" and resumed.data.tags["tacotron.resumes"] == "1"
    val = client.get_metric_history(run.info.run_id, "val/diagonality")
    assert [m.step for m in val] == [4, 8, 12]


@pytest.mark.slow
def test_status_reads_a_run_while_it_trains_and_after(corpus_en, fast_config, tmp_path, capsys):
    from tacotron.cli import main
    from tacotron.monitoring.status import format_status, read_status

    run_dir = tmp_path / "run"
    seen = {}

    class Peek(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.step == 6:  # after progress.json was written for this step
                seen.update(read_status(run_dir))

    config = fast_config("train.max_steps=8", "monitor.tensorboard=false")
    callbacks = build_callbacks(config)
    callbacks.append(Peek())
    Trainer(config, prepare(corpus_en, config, progress=False), run_dir, callbacks=callbacks,
            progress=False).fit()
    assert seen["state"] == "running" and seen["step"] == 6
    assert seen["validation"]["step"] == 4 and seen["progress"]["logs"]["total"] > 0
    assert seen["checkpoint"]["path"].endswith("step_0000004.pt")

    status = read_status(run_dir)
    assert status["state"] == "finished: max_steps" and status["step"] == 8
    text = format_status(status, now=status["checkpoint"]["time"] + 90)
    assert "checkpoint: step_0000008.pt, saved 1.5 min ago" in text
    assert "validation: mel_l1" in text and "(step 8)" in text
    assert "train_end: reason=max_steps" in text

    capsys.readouterr()
    assert main(["status", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "state:      finished: max_steps" in out and "step:       8 / 8" in out
    assert main(["status", str(tmp_path / "missing")]) == 2


def live_processes_in_group(pgid: int) -> list[int]:
    """Processes (not zombies) whose process group is `pgid`, from /proc."""
    import os

    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


@pytest.mark.slow
def test_monitor_serves_tensorboard_mlflow_optuna_and_stops_them_all(tmp_path):
    import re
    import signal
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from torch.utils.tensorboard import SummaryWriter

    runs = tmp_path / "runs"
    writer = SummaryWriter(str(runs / "a" / "tensorboard"))
    writer.add_scalar("train/total", 1.0, 1)
    writer.close()
    client = MlflowClient(f"sqlite:///{runs / 'a' / 'mlflow.db'}")
    client.create_run(client.create_experiment("tacotron"))
    services = {"tensorboard", "mlflow"}
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(study_name="s", storage=f"sqlite:///{runs / 'tune.db'}")
        from tacotron.monitoring.dashboards import find_script

        if find_script("optuna-dashboard"):
            services.add("optuna-dashboard")
    except ImportError:
        pass

    src = Path(__file__).resolve().parents[1] / "src"
    process = subprocess.Popen(
        [sys.executable, "-m", "tacotron.cli", "monitor", str(runs), "--ready-timeout", "240"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(src)})
    urls, pgids, ready, lines = {}, {}, set(), []
    try:
        deadline = time.monotonic() + 300
        while ready != services and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            match = re.match(r"^([\w-]+)(?: \(.*\))?: (http://127\.0\.0\.1:\d+/)\s+\(pid (\d+)\)", line)
            if match:
                urls[match.group(1)] = match.group(2)
                pgids[match.group(1)] = int(match.group(3))
            match = re.match(r"^ready: ([\w-]+)", line)
            if match:
                ready.add(match.group(1))
        assert ready == services, "\n".join(lines)
        for name in services:
            with urllib.request.urlopen(urls[name], timeout=10) as response:
                assert response.status == 200, name
        with urllib.request.urlopen(urls["mlflow"] + "ajax-api/2.0/mlflow/experiments/search"
                                    "?max_results=10", timeout=10) as response:
            assert "tacotron" in response.read().decode()
        assert len(live_processes_in_group(pgids["mlflow"])) >= 2  # the server forks a worker
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    assert process.returncode == 0, "\n".join(lines)
    for name, pgid in pgids.items():
        deadline = time.monotonic() + 10
        while live_processes_in_group(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert live_processes_in_group(pgid) == [], name


def test_progress_card_shows_the_evaluations_wer_and_predicted_mos():
    from tacotron.monitoring.telegram import progress_card

    val = {"mel_l1": 0.9, "diagonality": 0.8, "wer": 0.5, "cer": 0.25, "mos": 2.031, "source_mos": 4.08}
    card = progress_card("run", 100, {"total": 1.0}, val, 100, None, None, None)
    assert "WER 0.50 · CER 0.25 · MOS 2.03 (step 100)" in card
    assert "MOS" not in progress_card("run", 100, {"total": 1.0}, {"mel_l1": 0.9}, 100, None, None, None)
