"""Who watches a run: `build_callbacks(config)` returns the sinks that `config.monitor` switches
on (TensorBoard, progress.json, MLflow, Telegram), for `tacotron train`, `tacotron demo` and
`tacotron vocoder train` alike. All of them are fed by the run loop's hooks and its event
stream. (Alerts are not a sink: the controller, training/controller.py, raises them.)"""

from __future__ import annotations

from tacotron.config import Config
from tacotron.monitoring.media import MediaCache
from tacotron.training.callbacks import Callback


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
    if monitor.mlflow:
        from tacotron.monitoring.mlflow_sink import MlflowLogger, require_mlflow

        require_mlflow()
        callbacks.append(MlflowLogger(monitor, media))
    if monitor.telegram:
        from tacotron.monitoring.telegram import TelegramNotifier

        callbacks.append(TelegramNotifier.from_env(monitor, media))
    return callbacks
