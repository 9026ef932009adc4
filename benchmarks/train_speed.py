"""Training throughput of a preset on the eSpeak corpus, the default training (fused decoder loop,
train.fused_decoder=true) against the reference (the step-by-step autograd decoder loop) in the
same run: one training run whose decoder switches between the two every --block steps (A/B/A/B,
so that both see the machine's speed drift and the same mix of batch shapes). Prints one JSON line.

    python benchmarks/train_speed.py [--preset cpu-tiny] [--steps 60] [--block 5] [--lang en] [key=value ...]

Work per step is counted with torch's FlopCounterMode (a forward and backward of the reference
path) on the first FLOP_BATCHES batches of the training order, so "gflop_per_s" is their mean
count times steps/s (the timed batches are others of the same corpus).
"""

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from tacotron.config import load_config
from tacotron.data.corpus import make_corpus
from tacotron.data.prepare import prepare
from tacotron.model.tacotron2 import count_parameters
from tacotron.training.schedules import step_schedule
from tacotron.training.trainer import Callback, Trainer

WARMUP_STEPS = 2  # per variant: first steps pay for allocator and thread-pool start-up
FLOP_BATCHES = 4
VARIANTS = ("fused", "reference")


def set_variant(model, variant: str) -> None:
    for decoder in (model.decoder, model.coarse_decoder):
        if decoder is not None:
            decoder.fused_training = variant == "fused"


class AlternatingClock(Callback):
    """Times every step and switches the decoder loop every `block` steps (after a warm-up of
    each variant); a step's time goes to the variant that ran it."""

    def __init__(self, block: int):
        self.block = block
        self.trainer = None  # set once the Trainer exists
        self.seconds = {variant: 0.0 for variant in VARIANTS}
        self.steps = {variant: 0 for variant in VARIANTS}
        self.utterances = {variant: 0 for variant in VARIANTS}
        self.variant = VARIANTS[0]
        self.done = 0
        self.last = None

    def on_train_start(self, trainer):
        set_variant(self.trainer.model, self.variant)
        self.last = time.perf_counter()

    def on_step_end(self, trainer, logs):
        now = time.perf_counter()
        self.done += 1
        warmup = self.done <= WARMUP_STEPS * len(VARIANTS)
        if not warmup:
            self.seconds[self.variant] += now - self.last
            self.steps[self.variant] += 1
            self.utterances[self.variant] += self.trainer.config.train.batch_size
        period = WARMUP_STEPS if warmup else self.block
        counted = self.done if warmup else self.done - WARMUP_STEPS * len(VARIANTS)
        if counted % period == 0:
            self.variant = VARIANTS[(VARIANTS.index(self.variant) + 1) % len(VARIANTS)]
            set_variant(self.trainer.model, self.variant)
        self.last = time.perf_counter()  # the switch itself is not timed


def step_flops(trainer) -> tuple[float, dict]:
    """Mean FLOPs of one training step (forward + backward, reference path) over the first
    FLOP_BATCHES batches, and their mean shape."""
    task = trainer.task
    schedule = step_schedule(trainer.step, trainer.controls, trainer.config)
    set_variant(trainer.model, "reference")
    trainer.model.train()
    counts, symbols, frames = [], [], []
    for index, batch in enumerate(task.train_loader):
        if index == FLOP_BATCHES:
            break
        with FlopCounterMode(display=False) as counter:
            _, _, losses = task.forward_losses(batch.to(trainer.device), schedule)
            losses["total"].backward()
        task.optimizer.zero_grad(set_to_none=True)
        counts.append(counter.get_total_flops())
        symbols.append(batch.text.size(1))
        frames.append(batch.mels.size(2))
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    return mean(counts), {"text_length": round(mean(symbols), 1), "frames": round(mean(frames), 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--steps", type=int, default=60, help="timed steps, both variants together")
    parser.add_argument("--block", type=int, default=5, help="steps of one variant before switching")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--data", default=None)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    data_dir = Path(args.data or f"data/espeak-{args.lang}")
    make_corpus(args.lang, data_dir, progress=False)
    total_steps = args.steps + WARMUP_STEPS * len(VARIANTS)
    config = load_config(args.preset, overrides=[
        f"text.language={args.lang}", f"train.max_steps={total_steps}",
        "train.val_every_steps=1000000", "train.checkpoint_every_steps=1000000",
        "train.checkpoint_every_minutes=1000000", *args.overrides])
    prepared = prepare(data_dir, config, progress=False)
    prepared.val = []  # time the training steps alone
    clock = AlternatingClock(args.block)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, prepared, run_dir, callbacks=[clock], progress=False)
        clock.trainer = trainer
        trainer.fit()
        flops, shape = step_flops(trainer)
    steps_per_second = {v: clock.steps[v] / clock.seconds[v] for v in VARIANTS}
    utterances_per_second = {v: clock.utterances[v] / clock.seconds[v] for v in VARIANTS}
    print(json.dumps({
        "benchmark": "train_speed", "preset": args.preset, "device": str(trainer.device),
        "threads": torch.get_num_threads(), "parameters": count_parameters(trainer.model),
        "batch_size": config.train.batch_size, "reduction_factor": config.model.reduction_factor,
        "teacher_forcing_constant_steps": config.schedule.teacher_forcing_constant_steps,
        "block": args.block, "steps_timed": dict(clock.steps),
        "steps_per_second": {v: round(s, 3) for v, s in steps_per_second.items()},
        "utterances_per_second": {v: round(s, 2) for v, s in utterances_per_second.items()},
        "speedup_fused_over_reference": round(steps_per_second["fused"] / steps_per_second["reference"], 3),
        "gflop_per_step": round(flops / 1e9, 2), "flop_batches_mean_shape": shape,
        "gflop_per_s": {v: round(flops / 1e9 * s, 2) for v, s in steps_per_second.items()},
    }))


if __name__ == "__main__":
    main()
