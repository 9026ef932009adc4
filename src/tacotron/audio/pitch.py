"""Pitch (F0) of speech, for telling speakers apart: librosa's probabilistic YIN (Mauch & Dixon
2014, "pYIN"). librosa compiles it with numba on the first call (~10 s): keep it off hot paths."""

from __future__ import annotations

import numpy as np

# The search range of pYIN (Hz): below the lowest male and above the highest female speaking F0.
F0_MIN_HZ = 60.0
F0_MAX_HZ = 500.0
FRAME_LENGTH = 1024  # samples per pYIN frame (46 ms at 22.05 kHz: two periods of 60 Hz fit in it)


def mean_f0(waveform: np.ndarray, sample_rate: int) -> float:
    """Mean F0 (Hz) over the voiced frames: mean_t f0_t for t with pYIN's voiced flag set,
    f0 searched in [F0_MIN_HZ, F0_MAX_HZ]. NaN when no frame is voiced."""
    import librosa

    f0, voiced, _ = librosa.pyin(np.asarray(waveform, dtype=np.float32), fmin=F0_MIN_HZ, fmax=F0_MAX_HZ,
                                 sr=sample_rate, frame_length=FRAME_LENGTH)
    voiced_f0 = f0[voiced & np.isfinite(f0)]
    return float(voiced_f0.mean()) if voiced_f0.size else float("nan")
