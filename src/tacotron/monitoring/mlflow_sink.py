"""MLflow sink: the run's config as params, training and validation metrics, alignment pictures,
audio samples, the config, the event log and the best checkpoint as artifacts.

The default store is a SQLite file in the run folder (`sqlite:///RUN/mlflow.db`, artifacts in
`RUN/mlartifacts`); `monitor.mlflow_tracking_uri` points elsewhere (a shared SQLite file or an
MLflow server). The MLflow run id is kept in `RUN/mlflow_run.json`, so a restarted training
continues the same MLflow run. MLflow is imported on the sink's background thread (it takes
seconds) and only when switched on: install it with `pip install 'tacotron[monitor]'`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from tacotron.config import Config, MonitorConfig
from tacotron.errors import UserError
from tacotron.files import atomic_write_text
from tacotron.runs import checkpoint as ckpt
from tacotron.monitoring.delivery import DeliveryWorker, PermanentError, never_raises
from tacotron.runs.events import EVENTS_FILE, Event
from tacotron.monitoring.media import MediaCache
from tacotron.training.callbacks import Callback, RunView, ValidationSample

RUN_ID_FILE = "mlflow_run.json"
STORE_FILE = "mlflow.db"
ARTIFACT_DIR = "mlartifacts"
PARAMS_PER_BATCH = 100  # MLflow's limit for one log_batch call


def require_mlflow() -> None:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise UserError("monitor.mlflow=true needs MLflow: pip install 'tacotron[monitor]' "
                        "(or pip install mlflow)") from None


def tracking_uri_for(run_dir: Path, monitor: MonitorConfig) -> str:
    if monitor.mlflow_tracking_uri:
        return monitor.mlflow_tracking_uri
    return f"sqlite:///{(Path(run_dir) / STORE_FILE).resolve()}"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The file of a `sqlite:///PATH` store, None for any other kind of store."""
    prefix = "sqlite:///"
    return Path(tracking_uri[len(prefix):]) if tracking_uri.startswith(prefix) else None


def flatten_config(config: Config) -> dict[str, str]:
    """`section.key` -> value as text, one MLflow param per config key."""
    return {f"{section}.{key}": str(value)
            for section, values in config.to_dict().items() for key, value in values.items()}


class MlflowLogger(Callback):
    def __init__(self, monitor: MonitorConfig, media: MediaCache | None = None):
        self.monitor = monitor
        self.media = media or MediaCache()
        self.worker = DeliveryWorker("mlflow", monitor.queue_size, monitor.retry_attempts,
                                     monitor.retry_backoff_seconds)
        self.client = None
        self.run_id: str | None = None
        self.run_dir: Path | None = None
        self.tracking_uri = ""
        self.params: dict[str, str] = {}
        self.run_name = ""
        self.closed = False

    # ----------------------------------------------------------------- on the worker thread
    def start_run(self) -> None:
        """Open the store, then resume the run named in RUN/mlflow_run.json or create one."""
        import mlflow  # noqa: F401  (seconds to import: here, off the training thread)
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # no store-creation chatter
        logging.getLogger("alembic").setLevel(logging.WARNING)
        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment = client.get_experiment_by_name(self.monitor.mlflow_experiment)
        if experiment is None:
            store = sqlite_path(self.tracking_uri)
            location = (store.parent / ARTIFACT_DIR).resolve().as_uri() if store else None
            experiment_id = client.create_experiment(self.monitor.mlflow_experiment,
                                                     artifact_location=location)
        else:
            experiment_id = experiment.experiment_id
        run = self.previous_run(client)
        if run is None:
            run = client.create_run(experiment_id, run_name=self.run_name,
                                    tags={"tacotron.run_dir": str(self.run_dir.resolve())})
            atomic_write_text(self.run_dir / RUN_ID_FILE, json.dumps({
                "tracking_uri": self.tracking_uri, "experiment_id": experiment_id,
                "run_id": run.info.run_id}))
        else:
            client.update_run(run.info.run_id, status="RUNNING")
            resumes = int(run.data.tags.get("tacotron.resumes", "0")) + 1
            client.set_tag(run.info.run_id, "tacotron.resumes", str(resumes))
        # Params are write-once in MLflow: a resumed run adds only keys it did not have.
        new = [Param(key, value[:6000]) for key, value in self.params.items()
               if key not in run.data.params]
        for start in range(0, len(new), PARAMS_PER_BATCH):
            client.log_batch(run.info.run_id, params=new[start:start + PARAMS_PER_BATCH])
        self.client, self.run_id = client, run.info.run_id
        config_file = self.run_dir / "config.yaml"
        if config_file.is_file():
            client.log_artifact(self.run_id, str(config_file))

    def previous_run(self, client):
        path = self.run_dir / RUN_ID_FILE
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if saved.get("tracking_uri") != self.tracking_uri:
            return None
        try:
            run = client.get_run(saved["run_id"])
        except Exception:  # deleted, or another store at the same address
            return None
        return run if run.info.lifecycle_stage == "active" else None

    def ensure_run(self) -> None:
        if self.run_id is None:
            self.start_run()

    def log_metrics(self, values: dict[str, float], step: int, timestamp_ms: int) -> None:
        from mlflow.entities import Metric

        self.ensure_run()
        self.client.log_batch(self.run_id, metrics=[
            Metric(key, float(value), timestamp_ms, step) for key, value in values.items()])

    def log_bytes(self, data: bytes, name: str, artifact_path: str) -> None:
        self.ensure_run()
        with tempfile.TemporaryDirectory(prefix="tacotron-mlflow-") as folder:
            file = Path(folder) / name
            file.write_bytes(data)
            self.client.log_artifact(self.run_id, str(file), artifact_path)

    def log_files(self, files: list[tuple[Path, str | None]]) -> None:
        self.ensure_run()
        for file, artifact_path in files:
            if file.is_file():
                self.client.log_artifact(self.run_id, str(file), artifact_path)

    def finish(self, status: str) -> None:
        if self.run_id is None:
            raise PermanentError("the MLflow run was never started")
        self.client.set_terminated(self.run_id, status=status)

    # ----------------------------------------------------------------- training-thread hooks
    @never_raises
    def on_train_start(self, trainer: RunView) -> None:
        self.run_dir = trainer.run_dir
        self.run_name = trainer.run_dir.resolve().name
        self.tracking_uri = tracking_uri_for(trainer.run_dir, self.monitor)
        self.params = flatten_config(trainer.config)
        self.worker.submit("start run", self.start_run)

    def submit_metrics(self, prefix: str, values: dict[str, Any], step: int) -> None:
        numbers = {f"{prefix}/{key}": float(value) for key, value in values.items()
                   if isinstance(value, (int, float))}
        stamp = int(time.time() * 1000)
        self.worker.submit(f"{prefix} metrics step {step}",
                           lambda: self.log_metrics(numbers, step, stamp))

    @never_raises
    def on_step_end(self, trainer: RunView, logs: dict[str, float]) -> None:
        if trainer.step % trainer.config.train.log_every_steps == 0:
            self.submit_metrics("train", logs, trainer.step)

    @never_raises
    def on_validation_end(self, trainer: RunView, metrics: dict[str, float],
                          sample: ValidationSample | None) -> None:
        self.submit_metrics("val", metrics, trainer.step)
        if sample is None:
            return
        media = self.media.get(trainer.step, sample, trainer.config.audio)
        name = f"step_{trainer.step:07d}"
        self.worker.submit(f"alignment picture step {trainer.step}",
                           lambda: self.log_bytes(media.png, f"{name}.png", "alignment"))
        self.worker.submit(f"audio sample step {trainer.step}",
                           lambda: self.log_bytes(media.wav, f"{name}.wav", "audio"))

    @never_raises
    def on_event(self, trainer: RunView, event: Event) -> None:
        if event.kind == "crash":
            self.worker.submit("event log", lambda: self.log_files(
                [(trainer.run_dir / EVENTS_FILE, None)]))
            self.worker.submit("run status", lambda: self.finish("FAILED"))
            self.close()

    @never_raises
    def on_train_end(self, trainer: RunView, reason: str) -> None:
        files = [(trainer.run_dir / EVENTS_FILE, None), (trainer.run_dir / "metrics.jsonl", None)]
        if self.monitor.mlflow_log_checkpoint:
            best = ckpt.checkpoint_dir(trainer.run_dir) / "best.pt"
            files += [(best, "checkpoints"), (best.with_suffix(".yaml"), "checkpoints")]
        self.worker.submit("final artifacts", lambda: self.log_files(files))
        status = "KILLED" if reason == "interrupted" else "FINISHED"
        self.worker.submit("run status", lambda: self.finish(status))
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.worker.close(self.monitor.flush_seconds)
