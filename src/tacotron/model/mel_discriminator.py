"""A discriminator on log-mel patches, for the adversarial mel loss (`loss.adversarial_weight`).

Why: an L1/L2 mel loss predicts the mean over what the text leaves open, above all the pitch
contour, so the harmonic stripes of a lively voice blur into a smooth band that the vocoder renders
hoarse (docs/results.md, issue 29). A discriminator that tells predicted patches from recorded ones
pushes the postnet toward sharp, recording-like fine structure (a GAN post-filter in the sense of
Kaneko et al. 2017, "Generative adversarial network-based postfilter for STFT spectrograms").

The patches are crops of (at most) `crop_frames` frames taken at the same place from the teacher-forced
prediction and its recording (`matched_crops`), so padding never reaches the discriminator and the
feature-matching term compares like with like.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class MelDiscriminator(nn.Module):
    """2-D convolutions over (mel bin, frame) of standardized log-mel patches [B, n_mels, T] ->
    patch logits [B, 1, n_mels/4, T/4] and the hidden activations (for feature matching)."""

    def __init__(self, n_mels: int, channels: int = 16):
        super().__init__()
        self.register_buffer("mel_mean", torch.zeros(n_mels))
        self.register_buffer("mel_std", torch.ones(n_mels))
        self.layers = nn.ModuleList([
            nn.Conv2d(1, channels, 3, padding=1),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),
            nn.Conv2d(2 * channels, 2 * channels, 3, stride=2, padding=1),
            nn.Conv2d(2 * channels, 2 * channels, 3, padding=1),
        ])
        self.output = nn.Conv2d(2 * channels, 1, 3, padding=1)

    def set_mel_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """The acoustic model's per-bin statistics: the patches are read standardized."""
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std)

    def forward(self, mels: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = ((mels.float() - self.mel_mean[:, None]) / self.mel_std[:, None]).unsqueeze(1)
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        return self.output(x), features


def matched_crops(prediction: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor,
                  crop_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random window of valid frames from each utterance's prediction and recording
    ([B, n_mels, T] each) -> two [B, n_mels, W] tensors, W = min(crop_frames, shortest length)."""
    window = min(crop_frames, int(lengths.min()))
    starts = (torch.rand(lengths.shape, device=lengths.device) * (lengths - window + 1)).long()
    index = starts[:, None] + torch.arange(window, device=lengths.device)  # [B, W]
    gather = index[:, None, :].expand(-1, prediction.size(1), -1)
    return prediction.gather(2, gather), target.gather(2, gather)
