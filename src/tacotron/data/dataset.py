"""Training batches: encoded text and cached log-mels, length-bucketed and padded to r."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from tacotron.text import Frontend


@dataclass
class Batch:
    ids: list[str]
    text: torch.Tensor  # [B, N] symbol ids, 0-padded
    text_lengths: torch.Tensor  # [B]
    mels: torch.Tensor  # [B, n_mels, T], T a multiple of r, padded with the log floor (silence)
    mel_lengths: torch.Tensor  # [B]
    speakers: torch.Tensor  # [B] ids in the run's speaker list; all 0 for a single speaker

    def to(self, device: torch.device) -> "Batch":
        return Batch(self.ids, self.text.to(device, non_blocking=True),
                     self.text_lengths.to(device, non_blocking=True),
                     self.mels.to(device, non_blocking=True),
                     self.mel_lengths.to(device, non_blocking=True),
                     self.speakers.to(device, non_blocking=True))


class MelTextDataset(Dataset):
    """Items of a prepared split: (id, symbol ids, log-mel [n_mels, frames], speaker id).
    `speakers`: the run's speaker list (a speaker's id is its index); None: every id is 0."""

    def __init__(self, utterances: Sequence, frontend: Frontend, speakers: Sequence[str] | None = None):
        self.utterances = list(utterances)
        self.frontend = frontend
        index = {name: number for number, name in enumerate(speakers or [])}
        # A single-speaker data set's utterances name no one: row 0 (the one row of its table, if any).
        self.speaker_ids = [index[u.speaker] if speakers and u.speaker else 0 for u in self.utterances]
        self.frames = [u.frames for u in self.utterances]
        # Encoded once here, so that a step never waits for the phonemizer: phonemes come from
        # `prepare`'s cache when it made them, else from eSpeak now (data prepared for characters).
        self.symbol_ids = [frontend.to_ids(model_input(u, frontend)) for u in self.utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    def speaking_rate(self) -> dict[str, float]:
        """Percentiles (1st, 50th, 99th) of frames per input symbol, frames_i / len(ids_i), over
        the split. Saved in checkpoints: synthesis flags an utterance whose rate falls far outside."""
        rates = np.array([u.frames / max(1, len(ids)) for u, ids in zip(self.utterances, self.symbol_ids)])
        if len(rates) == 0:
            return {}
        p01, p50, p99 = np.percentile(rates, [1, 50, 99])
        return {"p01": float(p01), "p50": float(p50), "p99": float(p99)}

    def mel_statistics(self, max_utterances: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-bin mean and standard deviation of the log-mel over all frames of the split (of
        `max_utterances` spread evenly over it, for large data sets): mean_b = sum_t x_bt / T,
        std_b = sqrt(sum_t (x_bt - mean_b)^2 / T), floored at 1e-3."""
        step = max(1, len(self.utterances) // max_utterances)
        mels = np.concatenate([np.load(u.mel_path) for u in self.utterances[::step]], axis=1)
        mean, std = mels.mean(axis=1), np.maximum(mels.std(axis=1), 1e-3)
        return torch.from_numpy(mean).float(), torch.from_numpy(std).float()

    def __getitem__(self, index: int):
        utterance = self.utterances[index]
        mel = torch.from_numpy(np.load(utterance.mel_path))
        text = torch.tensor(self.symbol_ids[index], dtype=torch.long)
        return utterance.id, text, mel, self.speaker_ids[index]


def model_input(utterance, frontend: Frontend) -> str:
    """What the model reads for a prepared utterance: its cached phonemes in phoneme mode (when
    `prepare` ran in that mode), else the frontend's to_input() of its normalized text."""
    if frontend.input == "phonemes" and utterance.phonemes:
        return utterance.phonemes
    return frontend.to_input(utterance.normalized)


class MelTextCollate:
    """Pads a list of items into a Batch; mel frames are padded up to a multiple of r."""

    def __init__(self, reduction_factor: int, pad_value: float):
        self.r = reduction_factor
        self.pad_value = pad_value

    def __call__(self, items) -> Batch:
        ids, texts, mels, speakers = zip(*items)
        text_lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
        mel_lengths = torch.tensor([m.size(1) for m in mels], dtype=torch.long)
        max_frames = int(mel_lengths.max())
        max_frames = -(-max_frames // self.r) * self.r
        text = torch.zeros(len(items), int(text_lengths.max()), dtype=torch.long)
        padded = torch.full((len(items), mels[0].size(0), max_frames), self.pad_value)
        for i, (t, m) in enumerate(zip(texts, mels)):
            text[i, : len(t)] = t
            padded[i, :, : m.size(1)] = m
        return Batch(list(ids), text, text_lengths, padded, mel_lengths,
                     torch.tensor(speakers, dtype=torch.long))


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar length: each epoch shuffles the data (seeded by seed + epoch), sorts
    windows of `bucket_batches` batches by frame count, cuts them into batches and shuffles the
    batches. Batches are sharded over `world_size` ranks. `skip_batches` resumes mid-epoch."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int,
                 bucket_batches: int = 32, rank: int = 0, world_size: int = 1):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.bucket_batches = bucket_batches
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.skip_batches = 0

    def batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        window = self.batch_size * self.bucket_batches
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start: start + window], key=self.lengths.__getitem__)
            batches += [chunk[i: i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        usable = len(batches) - len(batches) % self.world_size if self.world_size > 1 else len(batches)
        return batches[self.rank:usable:self.world_size]

    def __len__(self) -> int:
        return len(self.batches(self.epoch))

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches(self.epoch)[self.skip_batches:]
        self.skip_batches = 0
        return iter(batches)
