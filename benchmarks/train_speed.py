"""Training throughput of a preset on the eSpeak corpus, the default training against the
reference path in the same run: one training run that switches between the two every --block
steps, each block of batches run twice, A/B then B/A (so that both see the machine's speed drift
and the very same batches). Prints one JSON line.

    python benchmarks/train_speed.py [--preset cpu-tiny] [--steps 100] [--block 5] [--lang en]
                                     [--only IDEA] [key=value ...]

The reference is the step-by-step training of before these speed-ups, every switch in IDEAS off:
  fused_decoder  the decoder loop as one autograd Function (model/decoder_loop.py, train.fused_decoder)
  cheap_masks    dropout masks from random bits (model/dropout.py): postnet, encoder, and the fused
                 decoder loop's, drawn before it (model/decoder_loop.py draw_loop_masks)
  padded_lstm    the encoder BiLSTM over the padded batch, not packed (model/tacotron2.py padded_bilstm)
  fused_adam     Adam's fused kernel (training/trainer.py adam)
`--only IDEA`: the "default" side turns on that one idea alone (its own ratio against the reference).

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
from tacotron.model.dropout import BitDropout
from tacotron.model.tacotron2 import count_parameters
from tacotron.training.schedules import step_schedule
from tacotron.training.callbacks import Callback
from tacotron.training.trainer import Trainer

FLOP_BATCHES = 4
VARIANTS = ("default", "reference")
IDEAS = ("fused_decoder", "cheap_masks", "padded_lstm", "fused_adam")


class Switches:
    """Turns the IDEAS on or off in a built run: module attributes, and the optimizer (a
    per-tensor-loop Adam sharing the fused one's state and hyperparameters)."""

    def __init__(self, trainer, ideas: tuple[str, ...]):
        self.task = trainer.task
        self.ideas = ideas
        self.fused_optimizer = self.task.optimizer
        self.loop_optimizer = torch.optim.Adam(self.fused_optimizer.param_groups[0]["params"])
        self.loop_optimizer.param_groups[0].update(
            {key: value for key, value in self.fused_optimizer.param_groups[0].items()
             if key not in ("params", "fused", "foreach")})
        self.loop_optimizer.state = self.fused_optimizer.state

    def set(self, variant: str) -> None:
        on = {idea: variant == "default" and idea in self.ideas for idea in IDEAS}
        model = self.task.model
        for decoder in (model.decoder, model.coarse_decoder):
            if decoder is not None:
                decoder.fused_training = on["fused_decoder"]
                decoder.cheap_masks = on["cheap_masks"]
        for module in model.modules():
            if isinstance(module, BitDropout):
                module.cheap_masks = on["cheap_masks"]
        model.encoder.padded_lstm_on_cpu = on["padded_lstm"]
        current = self.task.optimizer
        self.task.optimizer = self.fused_optimizer if on["fused_adam"] else self.loop_optimizer
        if current is not self.task.optimizer:  # the learning rate the step set on the other one
            self.task.optimizer.param_groups[0]["lr"] = current.param_groups[0]["lr"]


def pair_blocks(sampler, block: int) -> None:
    """Each block of `block` batches of the training order comes twice in a row, once for each
    variant, so both time the same batches (their lengths vary 2x: unpaired blocks made the ratio
    swing by +-30% over 30 steps); an epoch's incomplete last block is left out."""
    batches = sampler.batches

    def paired(epoch: int) -> list[list[int]]:
        order = batches(epoch)
        order = order[: len(order) - len(order) % block]
        return [batch for start in range(0, len(order), block)
                for batch in order[start:start + block] * 2]

    sampler.batches = paired


class AlternatingClock(Callback):
    """Times every step and switches the variant every `block` steps, in pairs of blocks over the
    same batches (pair_blocks), A/B then B/A; the first pair warms both up untimed. A step's time
    goes to the variant that ran it."""

    def __init__(self, block: int):
        self.block = block
        self.trainer = None  # set once the Trainer exists
        self.switches = None  # Switches, likewise
        self.seconds = {variant: 0.0 for variant in VARIANTS}
        self.steps = {variant: 0 for variant in VARIANTS}
        self.utterances = {variant: 0 for variant in VARIANTS}
        self.done = 0
        self.last = None

    def variant(self, step: int) -> str:
        pair, second = divmod(step // self.block, 2)
        return VARIANTS[(pair + second) % 2]

    def on_train_start(self, trainer):
        self.switches.set(self.variant(0))
        self.last = time.perf_counter()

    def on_step_end(self, trainer, logs):
        now = time.perf_counter()
        if self.done >= 2 * self.block:  # after the warm-up pair
            variant = self.variant(self.done)
            self.seconds[variant] += now - self.last
            self.steps[variant] += 1
            self.utterances[variant] += self.trainer.config.train.batch_size
        self.done += 1
        self.switches.set(self.variant(self.done))
        self.last = time.perf_counter()  # the switch itself is not timed


def step_flops(trainer) -> tuple[float, dict]:
    """Mean FLOPs of one training step (forward + backward, reference path) over the first
    FLOP_BATCHES batches, and their mean shape."""
    task = trainer.task
    schedule = step_schedule(trainer.step, task.controls, trainer.config)
    Switches(trainer, IDEAS).set("reference")
    task.model.train()
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
    parser.add_argument("--steps", type=int, default=100,
                        help="timed steps, both variants together (rounded up to pairs of blocks)")
    parser.add_argument("--block", type=int, default=5, help="steps of one variant before switching")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--data", default=None)
    parser.add_argument("--only", choices=IDEAS, default=None,
                        help="the default side turns on this idea alone")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    data_dir = Path(args.data or f"data/espeak-{args.lang}")
    make_corpus(args.lang, data_dir, progress=False)
    pairs = -(-args.steps // (2 * args.block))
    total_steps = (pairs + 1) * 2 * args.block  # the first pair warms up
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
        pair_blocks(trainer.task.sampler, args.block)
        clock.switches = Switches(trainer, (args.only,) if args.only else IDEAS)
        trainer.fit()
        flops, shape = step_flops(trainer)
    steps_per_second = {v: clock.steps[v] / clock.seconds[v] for v in VARIANTS}
    utterances_per_second = {v: clock.utterances[v] / clock.seconds[v] for v in VARIANTS}
    print(json.dumps({
        "benchmark": "train_speed", "preset": args.preset, "device": str(trainer.device),
        "threads": torch.get_num_threads(), "parameters": count_parameters(trainer.task.model),
        "batch_size": config.train.batch_size, "reduction_factor": config.model.reduction_factor,
        "teacher_forcing_constant_steps": config.schedule.teacher_forcing_constant_steps,
        "block": args.block, "steps_timed": dict(clock.steps),
        "steps_per_second": {v: round(s, 3) for v, s in steps_per_second.items()},
        "utterances_per_second": {v: round(s, 2) for v, s in utterances_per_second.items()},
        "ideas_on_in_default": list(clock.switches.ideas),
        "speedup_default_over_reference": round(steps_per_second["default"] / steps_per_second["reference"], 3),
        "gflop_per_step": round(flops / 1e9, 2), "flop_batches_mean_shape": shape,
        "gflop_per_s": {v: round(flops / 1e9 * s, 2) for v, s in steps_per_second.items()},
    }))


if __name__ == "__main__":
    main()
