"""Does Telegram monitoring slow training? Steps per second of the same training (same seed, same
steps, validation and progress cards included) with Telegram off, pointed at a live local Bot-API
server, at a dead address (nothing listening), and at a server stopped halfway through the run.
Modes alternate round by round so drifts in machine load spread over all of them. Prints one JSON
line; slowdown_percent is (off - mode) / off * 100 of the median steps/s.

    python benchmarks/monitor_overhead.py [--data DIR] [--steps 150] [--rounds 2] [key=value ...]
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from tacotron.config import load_config
from tacotron.data.corpus import make_corpus
from tacotron.data.prepare import prepare
from tacotron.monitoring.sinks import build_callbacks
from tacotron.training.callbacks import Callback
from tacotron.training.trainer import Trainer

WARMUP_STEPS = 5  # first steps pay for allocator and thread-pool start-up
MODES = ("off", "live", "dead", "stopped")


class StepClock(Callback):
    def __init__(self):
        self.times = []

    def on_step_end(self, trainer, logs):
        self.times.append(time.perf_counter())


class StopServerAt(Callback):
    def __init__(self, step, server):
        self.step, self.server = step, server

    def on_step_end(self, trainer, logs):
        if trainer.step == self.step and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)  # reaped after the run: no wait in the loop


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_bot_server(port: int, log: Path) -> subprocess.Popen:
    """The recording Bot-API server in its own process, as a remote server would be."""
    script = Path(__file__).resolve().parents[1] / "tests" / "bot_server.py"  # a test double
    server = subprocess.Popen([sys.executable, str(script), "--port",
                               str(port), "--out", str(log)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("bot server did not start")


def run_once(mode: str, config_overrides: list[str], prepared, steps: int, work: Path) -> dict:
    port = free_port()
    log = work / f"bot-{mode}-{time.time_ns()}.jsonl"
    server = start_bot_server(port, log) if mode in ("live", "stopped") else None
    os.environ.update({"TELEGRAM_BOT_TOKEN": "123456:benchmark", "TELEGRAM_CHAT_ID": "1",
                       "TELEGRAM_API_URL": f"http://127.0.0.1:{port}"})
    config = load_config("cpu-tiny", overrides=[
        *config_overrides, f"monitor.telegram={'false' if mode == 'off' else 'true'}"])
    clock = StepClock()
    callbacks = [*build_callbacks(config), clock]
    if mode == "stopped":
        callbacks.append(StopServerAt(WARMUP_STEPS + steps // 2, server))
    with tempfile.TemporaryDirectory(dir=work) as run_dir:
        trainer = Trainer(config, prepared, run_dir, callbacks=callbacks, progress=False)
        started = time.perf_counter()
        trainer.fit()
        fit_seconds = time.perf_counter() - started
    if server is not None:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        server.wait(10)
    timed = clock.times[WARMUP_STEPS - 1:]
    methods = [json.loads(line)["method"] for line in log.read_text().splitlines()] \
        if log.is_file() else []
    return {"mode": mode, "steps_per_second": (len(timed) - 1) / (timed[-1] - timed[0]),
            "fit_seconds": fit_seconds, "steps": trainer.step,
            "received": {name: methods.count(name) for name in sorted(set(methods))}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/espeak-en")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    modes = args.modes.split(",")
    data_dir = Path(args.data)
    make_corpus(args.lang, data_dir, progress=False)
    overrides = [
        f"text.language={args.lang}", f"train.max_steps={args.steps + WARMUP_STEPS}",
        "train.val_every_steps=50", "train.checkpoint_every_steps=1000000",
        "train.checkpoint_every_minutes=1000000", "monitor.tensorboard=false",
        "monitor.progress_file=false", "monitor.telegram_progress_every_steps=10",
        "monitor.retry_backoff_seconds=1", "monitor.flush_seconds=10", *args.overrides]
    prepared = prepare(data_dir, load_config("cpu-tiny", overrides=overrides), progress=False)
    results = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="monitor-overhead-") as work:
        for round_index in range(args.rounds):
            order = modes[round_index % len(modes):] + modes[:round_index % len(modes)]
            for mode in order:
                result = run_once(mode, overrides, prepared, args.steps, Path(work))
                results[mode].append(result)
                print(f"round {round_index + 1} {mode}: {result['steps_per_second']:.3f} steps/s, "
                      f"fit {result['fit_seconds']:.1f} s, received {result['received']}",
                      file=sys.stderr, flush=True)
    median = {mode: statistics.median(r["steps_per_second"] for r in runs)
              for mode, runs in results.items()}
    base = median.get("off")
    print(json.dumps({
        "benchmark": "monitor_overhead", "preset": "cpu-tiny", "threads": torch.get_num_threads(),
        "steps_timed": args.steps, "rounds": args.rounds,
        "validation_every_steps": 50, "progress_card_every_steps": 10,
        "steps_per_second": {mode: [round(r["steps_per_second"], 4) for r in runs]
                             for mode, runs in results.items()},
        "median_steps_per_second": {mode: round(value, 4) for mode, value in median.items()},
        "slowdown_percent": {mode: round((base - value) / base * 100, 2)
                             for mode, value in median.items() if base and mode != "off"},
        "fit_seconds": {mode: [round(r["fit_seconds"], 1) for r in runs]
                        for mode, runs in results.items()},
        "telegram_requests_received": {mode: [r["received"] for r in runs]
                                       for mode, runs in results.items() if mode != "off"},
    }))


if __name__ == "__main__":
    main()
