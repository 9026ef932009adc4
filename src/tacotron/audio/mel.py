"""Log-mel spectrograms in the HiFi-GAN V1 convention, so public HiFi-GAN vocoders fit."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tacotron.config import AudioConfig

# Added under the square root of |STFT|^2, as HiFi-GAN does, so the magnitude has a gradient at 0.
MAGNITUDE_EPSILON = 1e-9


class MelSpectrogram(torch.nn.Module):
    """waveform [T] or [B, T] -> natural-log mel magnitude [n_mels, frames] or [B, n_mels, frames].

    Frames are not centered (center=False) after a reflect pad of (n_fft - hop_length) // 2 on each
    side, which gives num_samples // hop_length frames for the default settings.
    """

    def __init__(self, audio_config: AudioConfig):
        super().__init__()
        # librosa takes seconds to import; only the filterbank needs it, so import it here alone.
        import librosa

        self.sample_rate = audio_config.sample_rate
        self.n_fft = audio_config.n_fft
        self.hop_length = audio_config.hop_length
        self.win_length = audio_config.win_length
        self.log_floor = audio_config.log_floor
        self.pad = (audio_config.n_fft - audio_config.hop_length) // 2
        filterbank = librosa.filters.mel(
            sr=audio_config.sample_rate,
            n_fft=audio_config.n_fft,
            n_mels=audio_config.n_mels,
            fmin=audio_config.fmin,
            fmax=audio_config.fmax,
        )
        self.register_buffer("filterbank", torch.from_numpy(filterbank).float())  # [n_mels, n_fft/2+1]
        self.register_buffer("window", torch.hann_window(audio_config.win_length))

    def frames(self, num_samples: int) -> int:
        """Number of mel frames computed from a waveform of `num_samples` samples."""
        return max(0, (num_samples + 2 * self.pad - self.n_fft) // self.hop_length + 1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        padded = F.pad(waveform.float().unsqueeze(-2), (self.pad, self.pad), mode="reflect").squeeze(-2)
        spectrum = torch.stft(
            padded,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=False,
            return_complex=True,
        )
        magnitude = torch.sqrt(spectrum.real**2 + spectrum.imag**2 + MAGNITUDE_EPSILON)
        mel = torch.matmul(self.filterbank, magnitude)
        return torch.log(torch.clamp(mel, min=self.log_floor))
