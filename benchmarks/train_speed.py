"""Training throughput of a preset on the eSpeak corpus: prints one JSON line.

    python benchmarks/train_speed.py [--preset cpu-tiny] [--steps 60] [--lang en] [key=value ...]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from tacotron.config import load_config
from tacotron.data.corpus import make_corpus
from tacotron.data.prepare import prepare
from tacotron.model.tacotron2 import count_parameters
from tacotron.training.trainer import Callback, Trainer

WARMUP_STEPS = 5  # first steps pay for allocator and thread-pool start-up


class StepClock(Callback):
    def __init__(self):
        self.times = []

    def on_step_end(self, trainer, logs):
        self.times.append(time.perf_counter())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--data", default=None)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    data_dir = Path(args.data or f"data/espeak-{args.lang}")
    make_corpus(args.lang, data_dir, progress=False)
    config = load_config(args.preset, overrides=[
        f"text.language={args.lang}", f"train.max_steps={args.steps + WARMUP_STEPS}",
        "train.val_every_steps=1000000", "train.checkpoint_every_steps=1000000",
        "train.checkpoint_every_minutes=1000000", *args.overrides])
    prepared = prepare(data_dir, config, progress=False)
    prepared.val = []  # time the training steps alone
    clock = StepClock()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, prepared, run_dir, callbacks=[clock], progress=False)
        trainer.fit()
    timed = clock.times[WARMUP_STEPS - 1:]
    steps_per_second = (len(timed) - 1) / (timed[-1] - timed[0])
    print(json.dumps({
        "benchmark": "train_speed", "preset": args.preset, "device": str(trainer.device),
        "threads": torch.get_num_threads(), "parameters": count_parameters(trainer.model),
        "batch_size": config.train.batch_size, "reduction_factor": config.model.reduction_factor,
        "steps_timed": len(timed) - 1, "steps_per_second": round(steps_per_second, 3),
    }))


if __name__ == "__main__":
    main()
