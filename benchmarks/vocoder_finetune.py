"""Fine-tune the pretrained universal HiFi-GAN on a Tacotron 2's teacher-forced mels, on the CPU,
and compare vocoders on the same validation mels.

    flock /tmp/cpu.lock python benchmarks/vocoder_finetune.py --corpus data/espeak-en \
        --checkpoint runs/demo-en --out runs/voc-finetune --minutes 12

The run is `VocoderTrainer` (the one training loop) for a time budget, resumable in --out. Then
the first --val-utterances validation utterances' teacher-forced mels are vocoded by Griffin-Lim,
the un-tuned universal generator and the fine-tuned one, and each is scored by
`vocoded_mel_l1` (mean |log-mel of the vocoded audio - log-mel of the recording|, frame-weighted).
The corpus is read, never written (its prepared features must exist). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import torch

from tacotron.data.prepare import load_prepared
from tacotron.inference.vocoder import load_vocoder
from tacotron.monitoring.tensorboard import TensorBoardLogger
from tacotron.training.vocoder_training import (VocoderTrainer,
                                                vocoded_mel_l1, vocoder_config)


def score(vocoder, items, mel_fn) -> float:
    """Frame-weighted mean of vocoded_mel_l1 over (input mel, recording's mel) pairs."""
    total = frames = 0
    for input_mel, target_mel in items:
        l1, count = vocoded_mel_l1(vocoder(input_mel), target_mel, mel_fn)
        total += l1 * count
        frames += count
    return total / max(frames, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="data/espeak-en")
    parser.add_argument("--checkpoint", default="runs/demo-en", help="the Tacotron 2 run")
    parser.add_argument("--out", default="runs/voc-finetune")
    parser.add_argument("--minutes", type=float, default=12.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--segment-size", type=int, default=8192)
    parser.add_argument("--val-utterances", type=int, default=8)
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    config = vocoder_config("v1", finetune_from=args.checkpoint, init="universal", overrides=[
        f"train.max_minutes={args.minutes}", "train.max_steps=1000000",
        f"train.num_threads={args.threads}", "train.num_workers=0",
        f"train.batch_size={args.batch_size}", f"vocoder.segment_size={args.segment_size}",
        f"vocoder.val_utterances={args.val_utterances}", "train.log_every_steps=5",
        # One validation, at the end: vocoding whole utterances with V1 costs a minute here.
        "train.val_every_steps=1000000", "train.checkpoint_every_steps=1000000",
        "train.checkpoint_every_minutes=5", *args.overrides])
    data = load_prepared(args.corpus)
    trainer = VocoderTrainer(config, data, args.out, callbacks=[TensorBoardLogger()])
    started = time.monotonic()
    trainer.fit()
    wall = time.monotonic() - started

    print("scoring vocoders on the validation mels", file=sys.stderr)
    items = [(np.load(input_mel), np.load(target_mel))
             for _, input_mel, target_mel, _ in trainer.task.val_items]
    mel_fn = trainer.task.mel_fn.cpu()
    vocoders = {
        "griffin_lim": load_vocoder("griffin-lim", config.audio),
        "universal": load_vocoder("universal", config.audio),
        "finetuned": load_vocoder(args.out, config.audio),
    }
    mel_l1 = {name: round(score(vocoder, items, mel_fn), 4) for name, vocoder in vocoders.items()}
    ground_truth = [(np.load(target_mel), np.load(target_mel))
                    for _, _, target_mel, _ in trainer.task.val_items]
    print(json.dumps({
        "checkpoint": args.checkpoint,
        "steps": trainer.step,
        "train_minutes": round(trainer.train_seconds / 60, 2),
        "wall_minutes": round(wall / 60, 2),
        "batch_size": args.batch_size,
        "segment_size": args.segment_size,
        "threads": args.threads,
        "val_utterances": len(items),
        "val_mel_l1_teacher_forced": mel_l1,
        "finetuned_lowest": mel_l1["finetuned"] < min(mel_l1["griffin_lim"], mel_l1["universal"]),
        "universal_on_ground_truth_mels": round(score(vocoders["universal"], ground_truth, mel_fn), 4),
        "trainer_val_mel_l1": round(trainer.last_val_metrics.get("mel_l1", float("nan")), 4),
    }))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
