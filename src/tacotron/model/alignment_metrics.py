"""Alignment health metrics. One function per number a user sees; each takes one attention
matrix A of shape [T, N] (decoder steps x input symbols) already cut to its valid lengths.

Positions use Tachibana et al. 2017's normalisation: input index n in [0, N), step t in [0, T),
compared as n/N and t/T.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

DIAGONAL_BAND = 0.15
COVERAGE_MIN_ATTENTION = 0.5
SKIP_JUMP = 3  # a forward move of the attention peak by more than this many symbols is a skip
REPEAT_JUMP = 2  # a backward move by at least this many symbols is a repeat


def diagonality(alignment: torch.Tensor, band: float = DIAGONAL_BAND) -> float:
    """Mean over decoder steps t of the attention mass within the diagonal band:
    (1/T) * sum_t sum_{n : |n/N - t/T| <= band} A[t, n].  1.0 = all mass on the diagonal."""
    steps, symbols = alignment.shape
    n = torch.arange(symbols, device=alignment.device, dtype=torch.float32)[None, :] / symbols
    t = torch.arange(steps, device=alignment.device, dtype=torch.float32)[:, None] / steps
    inside = (n - t).abs() <= band
    return float((alignment.float() * inside).sum(dim=1).mean())


def focus_rate(alignment: torch.Tensor) -> float:
    """Mean over decoder steps t of the largest attention weight: (1/T) * sum_t max_n A[t, n].
    1.0 = every step attends to exactly one symbol."""
    return float(alignment.float().max(dim=1).values.mean())


def monotonicity(alignment: torch.Tensor) -> float:
    """Share of consecutive step pairs whose attended symbol moves forward by 0..3:
    (1/(T-1)) * #{t : 0 <= argmax_n A[t+1] - argmax_n A[t] <= 3}.  1.0 for T < 2."""
    peaks = alignment.argmax(dim=1)
    if peaks.numel() < 2:
        return 1.0
    moves = peaks[1:] - peaks[:-1]
    return float(((moves >= 0) & (moves <= 3)).float().mean())


def coverage(alignment: torch.Tensor, min_attention: float = COVERAGE_MIN_ATTENTION) -> float:
    """Share of input symbols that receive attention: (1/N) * #{n : sum_t A[t, n] >= min_attention}.
    A skipped word leaves its symbols below the threshold; 1.0 = every symbol was read."""
    received = alignment.float().sum(dim=0)
    return float((received >= min_attention).float().mean())


def attention_entropy(alignment: torch.Tensor) -> float:
    """Mean normalised entropy of the attention of each step:
    (1/T) * sum_t ( -sum_n A[t, n] log A[t, n] ) / log N.  0 = sharp, 1 = spread evenly."""
    symbols = alignment.size(1)
    if symbols < 2:
        return 0.0
    weights = alignment.float().clamp_min(1e-12)
    return float((-(weights * weights.log()).sum(dim=1) / torch.log(torch.tensor(symbols))).mean())


def skips(alignment: torch.Tensor, jump: int = SKIP_JUMP) -> int:
    """Skipped stretches of text: #{t : argmax_n A[t+1] - argmax_n A[t] > jump}."""
    peaks = alignment.argmax(dim=1)
    return int(((peaks[1:] - peaks[:-1]) > jump).sum())


def repeats(alignment: torch.Tensor, jump: int = REPEAT_JUMP) -> int:
    """Returns to text already read: #{t : argmax_n A[t] - argmax_n A[t+1] >= jump}."""
    peaks = alignment.argmax(dim=1)
    return int(((peaks[:-1] - peaks[1:]) >= jump).sum())


@dataclass
class AlignmentScores:
    diagonality: float
    focus_rate: float
    monotonicity: float
    coverage: float
    attention_entropy: float = 0.0
    skips: int = 0
    repeats: int = 0

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def score_alignment(alignment: torch.Tensor) -> AlignmentScores:
    return AlignmentScores(diagonality(alignment), focus_rate(alignment), monotonicity(alignment),
                           coverage(alignment), attention_entropy(alignment), skips(alignment),
                           repeats(alignment))


def score_batch(alignments: torch.Tensor, step_lengths: torch.Tensor,
                text_lengths: torch.Tensor) -> list[AlignmentScores]:
    """Scores of each [steps, N] alignment of a batch, cut to its valid lengths."""
    return [
        score_alignment(alignments[b, : int(step_lengths[b]), : int(text_lengths[b])])
        for b in range(alignments.size(0))
    ]


def mean_scores(scores: list[AlignmentScores]) -> dict[str, float]:
    """The mean of each score over utterances (skips and repeats: per utterance)."""
    keys = [field.name for field in dataclasses.fields(AlignmentScores)]
    return {k: sum(getattr(s, k) for s in scores) / max(len(scores), 1) for k in keys}
