"""Who watches a run: `build_callbacks(config)` returns the sinks that `config.monitor` switches
on (TensorBoard, progress.json, alert events, MLflow, Telegram), for `tacotron train` and
`tacotron demo` alike. All of them are fed by the Trainer's hooks and its event stream."""

from __future__ import annotations

import math

from tacotron.config import Config
from tacotron.monitoring.media import MediaCache
from tacotron.training.trainer import Callback, Trainer, ValidationSample


def build_callbacks(config: Config) -> list[Callback]:
    """The monitoring callbacks of a run. Raises UserError before training starts when a switched-on
    sink cannot work (MLflow not installed, Telegram credentials missing from the environment)."""
    monitor = config.monitor
    callbacks: list[Callback] = []
    media = MediaCache()  # pictures and audio rendered once for all sinks
    if monitor.tensorboard:
        from tacotron.monitoring.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(media=media))
    if monitor.progress_file:
        from tacotron.monitoring.progress import ProgressFile

        callbacks.append(ProgressFile())
    if monitor.alerts:
        callbacks.append(HealthAlerts())
    if monitor.mlflow:
        from tacotron.monitoring.mlflow_sink import MlflowLogger, require_mlflow

        require_mlflow()
        callbacks.append(MlflowLogger(monitor, media))
    if monitor.telegram:
        from tacotron.monitoring.telegram import TelegramNotifier

        callbacks.append(TelegramNotifier.from_env(monitor, media))
    return callbacks


class HealthAlerts(Callback):
    """Turns what a watcher must hear about at once into `alert` events (each sink then decides
    how to tell it): a non-finite training loss, and an alignment that has not formed by
    `autofix.alignment_expected_step` or was lost after forming. "Formed" is the one threshold the
    phases and the auto-fix use too: validation diagonality >= `schedule.quality_diagonality`.
    One event when a condition starts, not one per step while it lasts. (What the auto-fix then
    does about it is its own `autofix` event.)"""

    def __init__(self):
        self.in_nan_streak = False
        self.aligned_once = False
        self.alignment_alert_open = False

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        bad = not math.isfinite(logs.get("total", 0.0)) or logs.get("skipped_nonfinite", 0.0) > 0
        if bad and not self.in_nan_streak:
            trainer.emit("alert", rule="nan_loss",
                         message=f"training loss is {logs.get('total')} (the step was skipped)",
                         grad_norm=logs.get("grad_norm"))
        self.in_nan_streak = bad

    def on_validation_end(self, trainer: Trainer, metrics: dict[str, float],
                          sample: ValidationSample | None) -> None:
        diagonality = metrics.get("diagonality")
        if diagonality is None:
            return
        threshold = trainer.config.schedule.quality_diagonality
        if diagonality >= threshold:
            self.aligned_once = True
            self.alignment_alert_open = False
            return
        if self.alignment_alert_open:
            return
        if self.aligned_once:
            rule, message = "alignment_lost", "the alignment formed earlier and is now lost"
        elif trainer.step >= trainer.config.autofix.alignment_expected_step:
            rule, message = ("alignment_not_formed",
                             f"no alignment after {trainer.step} steps")
        else:
            return
        self.alignment_alert_open = True
        trainer.emit("alert", rule=rule, message=message, diagonality=round(diagonality, 4),
                     threshold=threshold)
