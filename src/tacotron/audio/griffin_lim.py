"""Griffin-Lim phase reconstruction (Griffin & Lim 1984) from a log-mel, for listening without a vocoder."""

from __future__ import annotations

import numpy as np
import torch

from tacotron.audio.mel import MelSpectrogram
from tacotron.config import AudioConfig

# Fast Griffin-Lim momentum (Perraudin et al. 2013); 0 would be the original algorithm.
MOMENTUM = 0.99
PEAK = 0.95
PHASE_SEED = 0
NNLS_ITERS = 32


def griffin_lim(
    log_mel: torch.Tensor | np.ndarray, audio_config: AudioConfig, n_iter: int | None = None
) -> np.ndarray:
    """log-mel [n_mels, frames] -> float32 waveform of frames * hop_length samples."""
    mel_fn = MelSpectrogram(audio_config)
    log_mel = torch.as_tensor(log_mel, dtype=torch.float32).cpu()
    frames = log_mel.shape[1]
    hop = audio_config.hop_length
    magnitude = _mel_to_linear(torch.exp(log_mel), mel_fn.filterbank) ** audio_config.griffin_lim_power

    # torch.istft cannot invert uncentered Hann frames (the first sample has zero window weight),
    # so the iterations use centered frames; the result is shifted into place at the end.
    def stft(waveform: torch.Tensor) -> torch.Tensor:
        return torch.stft(waveform, audio_config.n_fft, hop, audio_config.win_length,
                          window=mel_fn.window, center=True, pad_mode="constant",
                          return_complex=True)  # zero padding: reflection needs > n_fft / 2 samples

    def istft(spectrum: torch.Tensor) -> torch.Tensor:
        return torch.istft(spectrum, audio_config.n_fft, hop, audio_config.win_length,
                           window=mel_fn.window, center=True, length=(frames - 1) * hop)

    generator = torch.Generator().manual_seed(PHASE_SEED)
    phase = torch.rand(magnitude.shape, generator=generator) * 2 * torch.pi
    accelerated = torch.polar(magnitude, phase)
    previous = accelerated
    for _ in range(audio_config.griffin_lim_iters if n_iter is None else n_iter):
        rebuilt = stft(istft(accelerated))
        # Project onto the target magnitude, then extrapolate along the last step (the momentum).
        projected = magnitude * rebuilt / (rebuilt.abs() + 1e-8)
        accelerated = projected + MOMENTUM * (projected - previous)
        previous = projected
    centered = istft(previous)

    # HiFi-GAN frame k is centered on sample k * hop + n_fft // 2 - pad, not on k * hop.
    offset = audio_config.n_fft // 2 - mel_fn.pad
    waveform = torch.zeros(frames * hop)
    waveform[offset : offset + len(centered)] = centered
    peak = float(waveform.abs().max())
    if peak >= 1.0:
        waveform = waveform * (PEAK / peak)
    return waveform.numpy()


def _mel_to_linear(mel: torch.Tensor, filterbank: torch.Tensor) -> torch.Tensor:
    """Non-negative least squares: argmin_{x >= 0} |filterbank @ x - mel|, by projected gradient.

    Starts from the clamped pseudo-inverse; the refinement roughly halves the log-mel error of
    the reconstruction, since the pseudo-inverse alone swings negative between mel bands.
    """
    linear = torch.clamp(torch.linalg.pinv(filterbank) @ mel, min=0.0)
    step = 1.0 / torch.linalg.matrix_norm(filterbank, ord=2) ** 2  # 1 / Lipschitz constant
    for _ in range(NNLS_ITERS):
        gradient = filterbank.T @ (filterbank @ linear - mel)
        linear = torch.clamp(linear - step * gradient, min=0.0)
    return linear
