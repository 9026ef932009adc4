"""How far a synthesized sentence is from a recording of the same sentence, without a recognizer:
mel cepstral distortion after dynamic time warping (MCD-DTW) and the duration ratio.

It lives in audio/ because it needs nothing but two waveforms: training, inference, evaluation and
the benchmarks can all use it, and it is the one place the figure is defined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soxr
import torch

from tacotron.config import AudioConfig

# Cepstral coefficients compared: c1..c24. c0 (the frame's log energy) is left out, so loudness
# normalization of either side does not change the figure.
CEPSTRAL_COEFFICIENTS = 24
# The analysis ESPnet uses at 22.05 kHz (n_fft 1024, shift 256), with an 80-band mel filterbank to 8 kHz.
ANALYSIS = AudioConfig(sample_rate=22050, n_fft=1024, hop_length=256, win_length=1024, n_mels=80,
                       fmin=0.0, fmax=8000.0)


@dataclass
class CepstralDistance:
    mcd_db: float  # mel cepstral distortion along the DTW path, dB
    duration_ratio: float  # synthesized seconds / reference seconds
    path_length: int  # frame pairs on the DTW path


_analyzer = None


def mel_cepstrum(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """[frames, CEPSTRAL_COEFFICIENTS] mel cepstrum c1..c24 of a mono waveform.

        c_k = (1/N) * sum_{n=0..N-1} 2 * ln|X_mel(n)| * cos(pi * k * (2n + 1) / (2N))

    (scipy's DCT-II / N over the N = 80 bands), so that ln|X_mel| ~ c_0 + sum_k c_k cos(k * w_mel): the
    one-sided convention of SPTK's mel-cepstrum (Fukada et al. 1992), which ESPnet's MCD uses, here
    taken from a mel filterbank (Davis & Mermelstein 1980) instead of SPTK's all-pass warping. Values
    are therefore on ESPnet's dB scale and comparable between runs of this project, but not digit
    for digit equal to ESPnet's tables.
    """
    global _analyzer
    from scipy.fft import dct

    from tacotron.audio.mel import MelSpectrogram

    if _analyzer is None:
        _analyzer = MelSpectrogram(ANALYSIS)
    audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if sample_rate != ANALYSIS.sample_rate:
        audio = soxr.resample(audio, sample_rate, ANALYSIS.sample_rate).astype(np.float32)
    if audio.size < ANALYSIS.n_fft:  # too short for one analysis frame (reflect padding needs more)
        audio = np.pad(audio, (0, ANALYSIS.n_fft - audio.size))
    with torch.no_grad():
        log_mel = _analyzer(torch.from_numpy(audio)).numpy()  # [n_mels, frames], natural log
    cepstrum = dct(log_mel, type=2, axis=0) / ANALYSIS.n_mels
    return cepstrum[1:CEPSTRAL_COEFFICIENTS + 1].T


def mel_cepstral_distortion(reference: np.ndarray, synthesized: np.ndarray, sample_rate: int,
                            synthesized_sample_rate: int | None = None) -> CepstralDistance:
    """MCD-DTW of a synthesized waveform against a reference recording (Kubichek 1993; as ESPnet reports it):

        MCD = 1/|P| * sum_{(i,j) in P} (10 / ln 10) * sqrt(2 * sum_{d=1..24} (c_d(i) - c'_d(j))^2)   [dB]

    c, c': mel_cepstrum() of the reference and the synthesized audio; P: the minimum-cost
    dynamic-time-warping path between them under the Euclidean frame distance (librosa.sequence.dtw).
    By Parseval, each term is the RMS difference in dB of the two cepstrally smoothed log mel power
    spectra (c0, the level, left out): 0 for the same audio, a few dB for the same voice and words.
    duration_ratio = len(synthesized) / synthesized_rate / (len(reference) / sample_rate).
    """
    synthesized_sample_rate = synthesized_sample_rate or sample_rate
    import librosa  # numba-compiled DTW: seconds on the first call of a process, then cached on disk

    reference_cepstrum = mel_cepstrum(reference, sample_rate)
    synthesized_cepstrum = mel_cepstrum(synthesized, synthesized_sample_rate)
    _, path = librosa.sequence.dtw(X=reference_cepstrum.T, Y=synthesized_cepstrum.T, metric="euclidean")
    differences = reference_cepstrum[path[:, 0]] - synthesized_cepstrum[path[:, 1]]
    per_pair = 10.0 / math.log(10.0) * np.sqrt(2.0 * np.sum(differences ** 2, axis=1))
    reference_seconds = len(reference) / sample_rate
    synthesized_seconds = len(synthesized) / synthesized_sample_rate
    return CepstralDistance(mcd_db=float(per_pair.mean()),
                            duration_ratio=synthesized_seconds / reference_seconds if reference_seconds else math.nan,
                            path_length=len(path))
