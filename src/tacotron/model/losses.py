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
    text: torch.Tensor | None = None  # [B, N] symbol ids (for the CTC regulariser)

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


@dataclass
class GateScores:
    """Per-utterance stop-token scores, each a [B] tensor (see `gate_scores`)."""

    accuracy: torch.Tensor
    stop_error: torch.Tensor
    missed: torch.Tensor  # bool
    early: torch.Tensor  # bool


def gate_scores(gate_logits: torch.Tensor, step_lengths: torch.Tensor,
                threshold: float = 0.5) -> GateScores:
    """Per utterance, with T its valid step count and t_stop the first step with
    sigmoid(g_t) > threshold (T when there is none):
      accuracy   = share of valid steps where [sigmoid(g_t) > threshold] equals the stop target;
      stop_error = |t_stop - (T - 1)| / T;
      missed     = t_stop = T (the gate never fires: free-running synthesis would babble on);
      early      = t_stop < T - 1 - max(1, 0.1 T) (it would cut the end of the utterance)."""
    steps = gate_logits.size(1)
    mask = lengths_to_mask(step_lengths, steps)
    fired = (torch.sigmoid(gate_logits.float()) > threshold) & mask
    correct = (fired == gate_targets(step_lengths, steps).bool()) & mask
    lengths = step_lengths.float()
    positions = torch.arange(steps, device=gate_logits.device)[None, :].expand_as(fired)
    first = torch.where(fired, positions, steps).min(1).values
    first = torch.minimum(first, step_lengths)
    tolerance = torch.clamp(0.1 * lengths, min=1.0)
    return GateScores(
        accuracy=correct.sum(1).float() / lengths,
        stop_error=(first - (step_lengths - 1)).abs().float() / lengths,
        missed=first == step_lengths,
        early=first.float() < lengths - 1 - tolerance,
    )


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


def spectral_mel_loss(prediction: torch.Tensor, target: torch.Tensor, frame_mask: torch.Tensor,
                      low_frequency_boost: float, temporal_weight: float) -> torch.Tensor:
    """Frequency-weighted L1 plus a temporal-difference L1, over valid cells:
    w_m = (1 + boost * (1 - m/(M-1))) / mean_m(...),
    L = sum w_m |ŷ - y| / (frames * M) + λ_t * sum |Δ_t ŷ - Δ_t y| / (frame pairs * M),
    with Δ_t x = x[:, t+1] - x[:, t] over pairs of valid frames. The weights favour the low bins
    (pitch and formants), the difference term sharpens onsets that a plain L1 blurs."""
    n_mels = prediction.size(1)
    bins = torch.arange(n_mels, device=prediction.device, dtype=torch.float32)
    weights = 1.0 + low_frequency_boost * (1.0 - bins / max(n_mels - 1, 1))
    weights = (weights / weights.mean())[None, :, None]
    mask = frame_mask[:, None, :].float()
    difference = (prediction.float() - target.float()).abs() * weights * mask
    loss = difference.sum() / (mask.sum() * n_mels)
    if temporal_weight > 0:
        pair_mask = mask[:, :, 1:] * mask[:, :, :-1]
        delta = (prediction.float().diff(dim=2) - target.float().diff(dim=2)).abs() * pair_mask
        loss = loss + temporal_weight * delta.sum() / (pair_mask.sum() * n_mels).clamp_min(1.0)
    return loss


def monotonic_alignment_loss(alignments: torch.Tensor, step_lengths: torch.Tensor,
                             tolerance: float = 0.0) -> torch.Tensor:
    """Penalty on the attention centroid c_t = sum_n n A[t, n] moving backward:
    sum_b sum_{t=1}^{T_b - 1} max(0, c_{t-1} - c_t - tolerance) / sum_b (T_b - 1), in symbols.
    Differentiable, zero for any forward-moving attention (padded steps are masked)."""
    positions = torch.arange(alignments.size(2), device=alignments.device, dtype=torch.float32)
    centroid = (alignments.float() * positions).sum(dim=2)  # [B, steps]
    backward = F.relu(centroid[:, :-1] - centroid[:, 1:] - tolerance)
    pairs = lengths_to_mask(step_lengths - 1, backward.size(1)).float()
    return (backward * pairs).sum() / pairs.sum().clamp_min(1.0)


def ddc_alignment_loss(alignments: torch.Tensor, coarse: torch.Tensor, reduction_factor: int,
                       coarse_factor: int, text_lengths: torch.Tensor,
                       step_lengths: torch.Tensor) -> torch.Tensor:
    """Double decoder consistency (Coqui TTS Tacotron2-DDC): mean |A_fine[t, n] - A_coarse[j, n]|
    over valid cells, where coarse step j = floor(t * r / r_coarse) covers fine step t's frames."""
    steps = alignments.size(1)
    index = torch.div(torch.arange(steps, device=alignments.device) * reduction_factor,
                      coarse_factor, rounding_mode="floor").clamp(max=coarse.size(1) - 1)
    matched = coarse[:, index, :]  # [B, steps, N]
    mask = (lengths_to_mask(step_lengths, steps)[:, :, None]
            & lengths_to_mask(text_lengths, alignments.size(2))[:, None, :]).float()
    return ((alignments.float() - matched.float()).abs() * mask).sum() / mask.sum().clamp_min(1.0)


def ctc_alignment_loss(log_probs: torch.Tensor, text: torch.Tensor, text_lengths: torch.Tensor,
                       mel_lengths: torch.Tensor) -> torch.Tensor:
    """CTC loss of the recognizer reading the predicted mels (blank = last class), averaged over
    target symbols: sum_b -log p(text_b | mel_b) / sum_b N_b."""
    blank = log_probs.size(2) - 1
    return F.ctc_loss(log_probs, text, mel_lengths, text_lengths, blank=blank,
                      reduction="sum", zero_infinity=True) / text_lengths.sum().clamp_min(1)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN (Mao et al. 2017), the discriminator's side:
    mean (D(y) - 1)^2 + mean D(ŷ)^2 over patch logits (recordings y, predictions ŷ)."""
    return (real_logits.float() - 1).pow(2).mean() + fake_logits.float().pow(2).mean()


def adversarial_mel_loss(fake_logits: torch.Tensor, real_features: list[torch.Tensor],
                         fake_features: list[torch.Tensor]) -> torch.Tensor:
    """The acoustic model's adversarial term: least squares, mean (D(ŷ) - 1)^2 (Mao et al. 2017),
    plus feature matching, the mean over the discriminator's layers l of mean |f_l(y) - f_l(ŷ)|
    (Kumar et al. 2019, MelGAN), on matched crops of prediction and recording."""
    matching = sum((real.detach() - fake).abs().mean() for real, fake in zip(real_features, fake_features))
    return (fake_logits.float() - 1).pow(2).mean() + matching / max(len(fake_features), 1)


@dataclass
class LossWeights:
    """The weights of this step: schedules and the auto-fix controller change them in training."""

    guided_attention: float
    guided_sigma: float
    gate_pos_weight: float


class Tacotron2Loss:
    """Total = MSE + L1 on decoder and postnet mels + gate BCE + w_ga * guided attention
    + the switchable terms of LossConfig (spectral, monotonic, DDC, CTC)."""

    def __init__(self, config: LossConfig):
        self.config = config

    def default_weights(self) -> LossWeights:
        return LossWeights(self.config.guided_attention_weight,
                           self.config.guided_attention_sigma, self.config.gate_pos_weight)

    def __call__(self, output: TacotronOutput, targets: Targets,
                 weights: LossWeights | None = None) -> dict[str, torch.Tensor]:
        config = self.config
        weights = weights or self.default_weights()
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
            "gate": gate_loss(output.gate_logits, step_lengths, weights.gate_pos_weight),
        }
        total = sum(terms.values())
        weighted = []  # (name, weight, value) of the optional terms
        if weights.guided_attention > 0:
            weighted.append(("guided_attention", weights.guided_attention, guided_attention_loss(
                output.alignments, targets.text_lengths, step_lengths, weights.guided_sigma)))
        if config.spectral_weight > 0:
            weighted.append(("spectral", config.spectral_weight, spectral_mel_loss(
                output.mel_postnet, mels, frame_mask, config.spectral_low_frequency_boost,
                config.spectral_temporal_weight)))
        if config.monotonic_weight > 0:
            weighted.append(("monotonic", config.monotonic_weight, monotonic_alignment_loss(
                output.alignments, step_lengths, config.monotonic_tolerance)))
        if output.alignments_coarse is not None:
            coarse_r = output.mel_coarse.size(2) // output.alignments_coarse.size(1)
            coarse_target = F.pad(mels, (0, output.mel_coarse.size(2) - mels.size(2)),
                                  mode="replicate")
            coarse_mask = lengths_to_mask(targets.mel_lengths, coarse_target.size(2))
            weighted.append(("coarse_mel_l1", 1.0, masked_mel_losses(
                output.mel_coarse.float(), coarse_target, coarse_mask)[1]))
            weighted.append(("ddc", config.ddc_alignment_weight, ddc_alignment_loss(
                output.alignments, output.alignments_coarse, targets.reduction_factor,
                coarse_r, targets.text_lengths, step_lengths)))
        if output.ctc_log_probs is not None and targets.text is not None:
            weighted.append(("ctc", config.ctc_weight, ctc_alignment_loss(
                output.ctc_log_probs, targets.text, targets.text_lengths, targets.mel_lengths)))
        for name, weight, value in weighted:
            terms[name] = value
            total = total + weight * value
        terms["total"] = total
        return terms
