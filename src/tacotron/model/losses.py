"""Tacotron 2 training losses. Every term is masked by true lengths: padding never contributes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tacotron.config import LossConfig
from tacotron.model.tacotron2 import TacotronOutput, lengths_to_mask


@dataclass
class Targets:
    mels: torch.Tensor  # [B, n_mels, T] (T a multiple of r, padded)
    mel_lengths: torch.Tensor  # [B] true frame counts
    text_lengths: torch.Tensor  # [B]
    reduction_factor: int

    @property
    def step_lengths(self) -> torch.Tensor:
        """Valid decoder steps per utterance: ceil(frames / r)."""
        r = self.reduction_factor
        return torch.div(self.mel_lengths + r - 1, r, rounding_mode="floor")


def masked_mel_losses(prediction: torch.Tensor, target: torch.Tensor,
                      frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE and L1 averaged over valid (frame, mel bin) cells:
    sum_{b,t valid, m} (ŷ - y)^2 / (n_valid_frames * n_mels), same with |ŷ - y|."""
    mask = frame_mask[:, None, :].to(prediction.dtype)
    cells = mask.sum() * prediction.size(1)
    difference = (prediction - target) * mask
    return difference.pow(2).sum() / cells, difference.abs().sum() / cells


def gate_targets(step_lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """1 at the last valid decoder step of each utterance (the stop token), 0 before it."""
    positions = torch.arange(steps, device=step_lengths.device)[None, :]
    return (positions == (step_lengths[:, None] - 1)).float()


def gate_loss(gate_logits: torch.Tensor, step_lengths: torch.Tensor,
              pos_weight: float) -> torch.Tensor:
    """Binary cross-entropy of the stop token over valid steps, the positive class weighted by
    `pos_weight` (one positive per utterance against ~frames/r negatives)."""
    steps = gate_logits.size(1)
    mask = lengths_to_mask(step_lengths, steps)
    target = gate_targets(step_lengths, steps)
    weight = torch.tensor(pos_weight, device=gate_logits.device, dtype=torch.float32)
    losses = F.binary_cross_entropy_with_logits(gate_logits.float(), target,
                                                pos_weight=weight, reduction="none")
    return losses[mask].mean()


def gate_scores(gate_logits: torch.Tensor, step_lengths: torch.Tensor,
                threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per utterance: gate accuracy = share of valid steps t with [sigmoid(g_t) > threshold] equal
    to the stop target; stop error = |t_stop - (T - 1)| / T, where t_stop is the first step above
    the threshold (T when there is none) and T the valid step count. Returns two [B] tensors."""
    steps = gate_logits.size(1)
    mask = lengths_to_mask(step_lengths, steps)
    fired = (torch.sigmoid(gate_logits.float()) > threshold) & mask
    correct = (fired == gate_targets(step_lengths, steps).bool()) & mask
    accuracy = correct.sum(1).float() / step_lengths.float()
    positions = torch.arange(steps, device=gate_logits.device)[None, :].expand_as(fired)
    first = torch.where(fired, positions, steps).min(1).values
    first = torch.minimum(first, step_lengths)
    stop_error = (first - (step_lengths - 1)).abs().float() / step_lengths.float()
    return accuracy, stop_error


def guided_attention_weights(text_lengths: torch.Tensor, step_lengths: torch.Tensor,
                             max_text: int, max_steps: int, sigma: float) -> torch.Tensor:
    """Penalty matrix of Tachibana et al. 2017: W_nt = 1 - exp(-(n/N - t/T)^2 / (2 g^2)),
    zero outside the valid [T, N] region. Returns [B, max_steps, max_text]."""
    n = torch.arange(max_text, device=text_lengths.device)[None, None, :].float()
    t = torch.arange(max_steps, device=text_lengths.device)[None, :, None].float()
    big_n = text_lengths[:, None, None].float()
    big_t = step_lengths[:, None, None].float()
    weights = 1.0 - torch.exp(-((n / big_n - t / big_t) ** 2) / (2.0 * sigma**2))
    valid = (n < big_n) & (t < big_t)
    return weights * valid


def guided_attention_loss(alignments: torch.Tensor, text_lengths: torch.Tensor,
                          step_lengths: torch.Tensor, sigma: float) -> torch.Tensor:
    """Guided attention loss (Tachibana et al. 2017): sum_{b,t,n} A_btn W_btn over valid cells,
    divided by the number of valid cells sum_b N_b T_b."""
    batch, steps, max_text = alignments.shape
    weights = guided_attention_weights(text_lengths, step_lengths, max_text, steps, sigma)
    valid_cells = (text_lengths.float() * step_lengths.float()).sum()
    return (alignments.float() * weights).sum() / valid_cells


class Tacotron2Loss:
    """Total = MSE + L1 on decoder and postnet mels + gate BCE + w_ga * guided attention."""

    def __init__(self, config: LossConfig):
        self.config = config

    def __call__(self, output: TacotronOutput, targets: Targets) -> dict[str, torch.Tensor]:
        frame_mask = lengths_to_mask(targets.mel_lengths, targets.mels.size(2))
        mels = targets.mels.float()
        mse, l1 = masked_mel_losses(output.mel.float(), mels, frame_mask)
        post_mse, post_l1 = masked_mel_losses(output.mel_postnet.float(), mels, frame_mask)
        step_lengths = targets.step_lengths
        terms = {
            "mel_mse": mse,
            "mel_l1": l1,
            "postnet_mse": post_mse,
            "postnet_l1": post_l1,
            "gate": gate_loss(output.gate_logits, step_lengths, self.config.gate_pos_weight),
        }
        total = sum(terms.values())
        if self.config.guided_attention_weight > 0:
            terms["guided_attention"] = guided_attention_loss(
                output.alignments, targets.text_lengths, step_lengths,
                self.config.guided_attention_sigma)
            total = total + self.config.guided_attention_weight * terms["guided_attention"]
        terms["total"] = total
        return terms
