"""Dropout whose mask costs one random bit per element (inverted dropout, Srivastava et al. 2014:
y = x * m / (1 - p), m ~ Bernoulli(1 - p), the identity outside training).

On CPU, F.dropout draws one Bernoulli sample per element from the Mersenne Twister (measured
~15 ns per element on this project's 2-core CPU, single thread): the postnet's and encoder's
masks over [B, channels, frames] were ~8% of a cpu-tiny training step. At p = 0.5 (the paper's
postnet and encoder dropout) every random bit is one element's Bernoulli(0.5) draw, so 64-bit
random words, unpacked 8 bits at a time through a 256-row table of scaled masks, give the same
distribution about 13 times faster. Any other p draws 16 random bits per element and keeps those
above p's share of their range (~2.5 times faster than F.dropout). The random stream is the
default generator's, so a seed still fixes the masks, but they are not the ones F.dropout would
draw. On CUDA, F.dropout's fused kernel is kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# byte -> its 8 bits, least significant first, each as keep / (1 - p) = 2 (kept) or 0 (dropped)
_BIT_TABLES: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}


def _bit_table(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    key = (dtype, device)
    if key not in _BIT_TABLES:
        bits = (torch.arange(256)[:, None] >> torch.arange(8)[None, :]) & 1
        _BIT_TABLES[key] = (bits * 2).to(dtype=dtype, device=device)
    return _BIT_TABLES[key]


def scaled_keep_mask(like: torch.Tensor, p: float) -> torch.Tensor:
    """m / (1 - p) with m ~ Bernoulli(1 - p) per element, shaped and typed like `like`."""
    count = like.numel()
    if p == 0.5:
        # random_(from, to) over the whole int64 range: each of a word's 64 bits is a fair coin
        # (the one value the half-open range leaves out biases it by 2^-64).
        words = torch.empty((count + 63) // 64, dtype=torch.int64, device=like.device)
        words.random_(-2**63, 2**63 - 1)
        table = _bit_table(like.dtype, like.device)
        return table.index_select(0, words.view(torch.uint8).long()).view(-1)[:count].view(like.shape)
    # Any other p: one 16-bit random integer per element, kept where it is >= p * 2^16, so p is
    # rounded to a multiple of 2^-16 (0.1 -> 0.100006). The random words are what costs: a
    # quarter of a 64-bit word per element is ~5.5 ns, torch.rand's float ~10 ns.
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=like.device)
    words.random_(-2**63, 2**63 - 1)
    threshold = round(p * 2**16) - 2**15  # on the signed view of the 16-bit quarters
    keep = words.view(torch.int16)[:count].view(like.shape) >= threshold
    return keep.to(like.dtype) * (1.0 / (1.0 - p))


def bit_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout with F.dropout's semantics (same p, same scaling), cheaper masks on CPU."""
    if not training or p == 0.0:
        return x
    if p >= 1.0 or x.device.type != "cpu":
        return F.dropout(x, p, training)
    return x * scaled_keep_mask(x, p)


class BitDropout(nn.Module):
    """nn.Dropout drawing its masks with `bit_dropout`; `cheap_masks = False` restores F.dropout
    (the reference, whose masks benchmarks/train_speed.py compares). No state: checkpoints of
    models built with nn.Dropout load unchanged."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.cheap_masks = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cheap_masks:
            return bit_dropout(x, self.p, self.training)
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
