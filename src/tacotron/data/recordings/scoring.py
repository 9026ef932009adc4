"""Quality of one clip: several scores in [0, 1], and the clip's quality is the lowest of them.

The lowest score, not an average, decides, so a clip with a good recognition but heavy clipping is
still rejected, and the reason given is the weakest aspect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tacotron.config import DatasetConfig

# Floor for powers before taking a logarithm (digital silence).
POWER_FLOOR = 1e-12


def ramp_score(value: float, ramp: list[float]) -> float:
    """0 at ramp[0], 1 at ramp[1], linear between and clipped to [0, 1] (either direction)."""
    bad, good = ramp
    return float(min(1.0, max(0.0, (value - bad) / (good - bad))))


def asr_confidence(avg_logprob: float) -> float:
    """The recognizer's confidence in a clip: exp(mean over its words of log p(word)), the geometric
    mean of Whisper's word probabilities; 0 when it heard no words."""
    return math.exp(avg_logprob) if math.isfinite(avg_logprob) else 0.0


def rate_deviation(chars_per_second: float, median_chars_per_second: float) -> float:
    """|log2(cps / median cps)|: 0 at the speaker's usual rate, 1 at twice or half of it."""
    if chars_per_second <= 0 or median_chars_per_second <= 0:
        return float("inf")
    return abs(math.log2(chars_per_second / median_chars_per_second))


def snr_db(speech_power: float, noise_power: float) -> float:
    """A-posteriori SNR estimate: 10 log10((P_speech - P_noise) / P_noise), with the noise power taken as
    a low percentile of the file's frame powers (minimum statistics, Martin 2001)."""
    signal = max(speech_power - noise_power, POWER_FLOOR)
    return 10.0 * math.log10(signal / max(noise_power, POWER_FLOOR))


def frame_powers(waveform: np.ndarray, sample_rate: int, frame_seconds: float, count: int | None = None) -> np.ndarray:
    """Mean square of frames k = 0..count-1 spanning [k, k + 1) * frame_seconds, with sample edges
    rounded per frame, so that frame k starts at k * frame_seconds however long the file (a whole
    number of samples per frame would drift from the detector's grid). Past the end: 0."""
    if count is None:
        count = int(np.ceil(waveform.size / (frame_seconds * sample_rate)))
    edges = np.minimum(np.round(np.arange(count + 1) * frame_seconds * sample_rate).astype(np.int64), waveform.size)
    sums = np.concatenate([[0.0], np.cumsum(waveform.astype(np.float64) ** 2)])
    lengths = np.maximum(edges[1:] - edges[:-1], 1)
    return (sums[edges[1:]] - sums[edges[:-1]]) / lengths


@dataclass
class Features:
    """What is measured on one clip (or a group of clips joined into one utterance)."""

    speech_seconds: float
    chars: int  # characters of the normalized text
    no_speech_prob: float | None  # None: not known for this clip alone
    avg_logprob: float
    clipped_fraction: float
    snr_db: float
    mismatch: float | None = None  # CER(recognized, transcript) - median CER; None without transcript


@dataclass
class Quality:
    scores: dict[str, float] = field(default_factory=dict)
    quality: float = 0.0
    weakest: str = ""

    def reason(self, features: Features, median_cps: float) -> str:
        """The weakest score in words, e.g. "quality 0.31: SNR 14.6 dB"."""
        name = self.weakest
        if name == "speech":
            detail = f"Whisper no-speech probability {features.no_speech_prob:.2f}"
        elif name == "confidence":
            detail = f"recognizer confidence {asr_confidence(features.avg_logprob):.2f}"
        elif name == "rate":
            detail = (f"{features.chars / max(features.speech_seconds, 1e-6):.1f} characters/s vs the "
                      f"speaker's median {median_cps:.1f}")
        elif name == "clipping":
            detail = f"{features.clipped_fraction:.2%} of samples clipped"
        elif name == "snr":
            detail = f"SNR {features.snr_db:.1f} dB"
        else:
            detail = f"transcript and recognition differ (CER {features.mismatch:+.2f} above the median)"
        return f"quality {self.quality:.2f}: {detail}"


def score(features: Features, median_cps: float, config: DatasetConfig) -> Quality:
    """Each score by its ramp in `config`; quality = min(scores)."""
    scores = {
        "rate": ramp_score(rate_deviation(features.chars / max(features.speech_seconds, 1e-6), median_cps),
                           config.rate_ramp),
        "clipping": ramp_score(features.clipped_fraction, config.clipping_ramp),
        "snr": ramp_score(features.snr_db, config.snr_ramp),
    }
    if features.no_speech_prob is not None:
        scores["speech"] = ramp_score(features.no_speech_prob, config.no_speech_ramp)
    if features.mismatch is None:  # without a transcript the recognition is the text: trust it enough
        scores["confidence"] = ramp_score(asr_confidence(features.avg_logprob), config.confidence_ramp)
    else:
        scores["mismatch"] = ramp_score(features.mismatch, config.mismatch_ramp)
    weakest = min(scores, key=scores.get)
    return Quality(scores={name: round(value, 3) for name, value in scores.items()},
                   quality=round(scores[weakest], 3), weakest=weakest)
