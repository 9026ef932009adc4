"""Waveform post-processing for synthesized speech: gate, trim, loudness, true-peak limit, fades, joins.

Every step takes and returns a mono float32 numpy array; `postprocess` chains them.
"""

from __future__ import annotations

import functools

import numpy as np
import pyloudnorm
import torch
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import firwin

# trim_silence measures level on non-overlapping frames of this length.
TRIM_FRAME_MS = 10.0
# pyloudnorm's gating block (BS.1770-4): shorter signals cannot be measured.
LOUDNESS_BLOCK_S = 0.4
# noise_gate spreads each open region's gain over this many closed frames before (attack)
# and after (release) it, so the gain never steps by the full attenuation from one frame to the next.
GATE_ATTACK_FRAMES = 2
GATE_RELEASE_FRAMES = 3
# Limiter gain reduction below this many dB is rounded to none, so the release tail ends in
# exactly unit gain (bit-identical samples) instead of decaying forever.
LIMITER_MIN_REDUCTION_DB = 1e-6
# The limiter aims this far below its ceiling (see true_peak_limit).
LIMITER_HEADROOM_DB = 0.02
# Interpolator for true-peak estimation: scipy.signal.resample_poly's default design
# (Kaiser-windowed sinc, beta 5, this many zero crossings on each side).
INTERPOLATION_ZERO_CROSSINGS = 10
# Floor for frame energies before taking the logarithm (digital silence).
ENERGY_EPSILON = 1e-20


def _as_mono_float32(waveform: np.ndarray) -> np.ndarray:
    """Any real array of shape [samples] -> a float32 1-D copy; anything else is a ValueError."""
    array = np.asarray(waveform)
    if array.ndim != 1:
        raise ValueError(
            f"expected a mono waveform of shape [samples], got shape {array.shape}; "
            "downmix multi-channel audio first"
        )
    return array.astype(np.float32, copy=True)


def _samples(milliseconds: float, sample_rate: int) -> int:
    """Duration in ms -> whole samples (rounded, never negative)."""
    return max(0, int(round(milliseconds * sample_rate / 1000.0)))


def _half_hann_ramp(length: int) -> np.ndarray:
    """Rising raised-cosine 0.5 * (1 - cos(pi * k / length)), k = 0..length-1: starts at exactly 0."""
    k = np.arange(length, dtype=np.float64)
    return (0.5 * (1.0 - np.cos(np.pi * k / max(length, 1)))).astype(np.float32)


# --- trim -------------------------------------------------------------------------------------


def silence_bounds(
    waveform: np.ndarray, sample_rate: int, threshold_db: float = -40.0, margin_ms: float = 20.0
) -> tuple[int, int]:
    """The [start, end) samples `trim_silence` keeps, so that a caller knows how many it cut from
    the start (word timings move by `start`). See `trim_silence` for the rule."""
    samples = _as_mono_float32(waveform)
    margin = _samples(margin_ms, sample_rate)
    frame = max(1, _samples(TRIM_FRAME_MS, sample_rate))
    if samples.size == 0:
        return 0, 0

    frame_count = -(-samples.size // frame)
    padded = np.zeros(frame_count * frame, dtype=np.float64)
    padded[: samples.size] = samples
    frame_rms = np.sqrt(np.mean(padded.reshape(frame_count, frame) ** 2, axis=1))
    loudest = frame_rms.max()
    if loudest == 0.0:
        return 0, min(samples.size, max(1, margin))

    frame_db = 20.0 * np.log10(np.maximum(frame_rms / loudest, ENERGY_EPSILON))
    loud_frames = np.flatnonzero(frame_db >= threshold_db)
    start = max(0, loud_frames[0] * frame - margin)
    end = min(samples.size, (loud_frames[-1] + 1) * frame + margin)
    return int(start), int(end)


def trim_silence(
    waveform: np.ndarray, sample_rate: int, threshold_db: float = -40.0, margin_ms: float = 20.0
) -> np.ndarray:
    """Cut leading and trailing audio quieter than `threshold_db` below the loudest 10 ms frame.

    Level is the RMS of non-overlapping 10 ms frames, so the cut points are frame-accurate
    (within 10 ms); `margin_ms` of audio is kept before the first and after the last frame
    at or above the threshold (clipped to the input's ends).
    All-silent input (every sample 0) returns its first `margin_ms` of samples (at least one
    sample), so callers never receive an empty array; empty input returns empty.
    `silence_bounds` gives the cut points.
    """
    samples = _as_mono_float32(waveform)
    start, end = silence_bounds(samples, sample_rate, threshold_db, margin_ms)
    return samples[start:end].copy()


# --- loudness ---------------------------------------------------------------------------------


def integrated_loudness(waveform: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS per ITU-R BS.1770-4, measured by pyloudnorm.

    The signal is K-weighted (high-shelf + high-pass pre-filter), cut into 400 ms blocks with
    75 % overlap, and each block's mean square z_j taken. Blocks below the absolute gate of
    -70 LUFS are dropped, then blocks more than 10 LU below the loudness of the remaining ones
    (relative gate); over the surviving blocks
        L = -0.691 + 10 * log10(mean_j z_j)        (BS.1770-4 eq. 2, mono: channel weight 1)
    Returns -inf for silence and for signals shorter than one 400 ms block, which the meter
    cannot measure.
    """
    samples = _as_mono_float32(waveform).astype(np.float64)
    if samples.size < LOUDNESS_BLOCK_S * sample_rate or not np.any(samples):
        return float("-inf")
    loudness = float(pyloudnorm.Meter(sample_rate).integrated_loudness(samples))
    return loudness if np.isfinite(loudness) else float("-inf")


def loudness_normalize(waveform: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    """Apply one gain so the integrated loudness (BS.1770-4) becomes `target_lufs`.

    Signals shorter than 0.4 s or silent (loudness -inf) are returned unchanged. The gain is
    not limited: peaks may exceed full scale, which is why `true_peak_limit` runs after this.
    """
    samples = _as_mono_float32(waveform)
    loudness = integrated_loudness(samples, sample_rate)
    if not np.isfinite(loudness):
        return samples
    gain = 10.0 ** ((target_lufs - loudness) / 20.0)
    return (samples.astype(np.float64) * gain).astype(np.float32)


# --- true peak --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _interpolation_phases(oversample: int) -> tuple[np.ndarray, ...]:
    """Polyphase taps of resample_poly's default interpolator (Kaiser beta 5, 10 zero crossings)."""
    half_length = INTERPOLATION_ZERO_CROSSINGS * oversample
    prototype = firwin(2 * half_length + 1, 1.0 / oversample, window=("kaiser", 5.0)) * oversample
    return tuple(prototype[phase::oversample] for phase in range(1, oversample))


def _peak_envelope(samples: np.ndarray, oversample: int) -> np.ndarray:
    """Per-sample peak |x| that also covers the inter-sample peaks on both sides of each sample.

    The values at k + p/oversample (p = 1..oversample-1) are those of
    scipy.signal.resample_poly(x, oversample, 1)[k * oversample + p], computed phase by phase
    (one short convolution each) instead of building the whole oversampled signal.
    """
    signal = samples.astype(np.float64)
    magnitude = np.abs(signal)
    following = magnitude.copy()  # peak over [k, k+1): the sample and the points after it
    for taps in _interpolation_phases(oversample):
        # Full convolution; output k sits INTERPOLATION_ZERO_CROSSINGS taps in (the filter's delay).
        delay = INTERPOLATION_ZERO_CROSSINGS
        between = np.convolve(signal, taps)[delay : delay + signal.size]
        np.maximum(following, np.abs(between), out=following)
    preceding = np.concatenate([[0.0], following[:-1]])
    return np.maximum(following, preceding)


def true_peak(waveform: np.ndarray, oversample: int = 4) -> float:
    """Estimated true (inter-sample) peak in linear amplitude: max |x| after oversampling.

    ITU-R BS.1770-4 Annex 2: oversample 4x, take the absolute maximum. The interpolated values
    equal scipy.signal.resample_poly(x, oversample, 1)'s; the original samples count as they
    are, so the estimate is never below the sample peak. Empty input gives 0.0.
    """
    samples = _as_mono_float32(waveform)
    if samples.size == 0:
        return 0.0
    return float(_peak_envelope(samples, max(1, oversample)).max())


def _limiter_gain(envelope: np.ndarray, ceiling: float, lookahead: int, release: int) -> np.ndarray:
    """Gain per sample (<= 1) that keeps the peak `envelope` at or under `ceiling`."""
    with np.errstate(divide="ignore"):
        needed_db = np.maximum(0.0, 20.0 * np.log10(envelope / ceiling))

    # Release: reduction[t] = max(needed[t], a * reduction[t-1]) with a = exp(-1/release), a
    # one-pole decay in dB. Unrolled it is max_s needed[s] * a^(t-s) = a^t * max_s(needed[s] * a^-s),
    # i.e. a running maximum in the log domain, so no per-sample Python loop is needed.
    log_decay = -1.0 / max(release, 1)
    t = np.arange(envelope.size, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_needed = np.log(needed_db)
    reduction_db = np.exp(t * log_decay + np.maximum.accumulate(log_needed - t * log_decay))
    reduction_db[reduction_db < LIMITER_MIN_REDUCTION_DB] = 0.0
    reduction_db = np.maximum(reduction_db, needed_db)

    if lookahead > 0:
        window = lookahead + 1
        # Hold: held[t] = max(reduction[t .. t+L]) (forward window, L = lookahead).
        held = maximum_filter1d(reduction_db, window, mode="constant", cval=0.0, origin=-(window // 2))
        # Ramp: average held over [t-L, t]. Every term covers sample t, so each is >= reduction[t]
        # and so is their mean: no peak gets through. A lone peak at t0 becomes a linear ramp
        # over [t0-L, t0] (the attack) and back down over [t0, t0+L], under the release tail.
        ramped = uniform_filter1d(held, window, mode="nearest", origin=lookahead // 2)
        # The running sum leaves ~1e-12 dB residue where held is all zero; restore exact unit gain.
        untouched = maximum_filter1d(held, window, mode="constant", cval=0.0, origin=lookahead // 2) == 0.0
        ramped[untouched] = 0.0
        reduction_db = np.maximum(ramped, reduction_db)
    return 10.0 ** (-reduction_db / 20.0)


def true_peak_limit(
    waveform: np.ndarray,
    sample_rate: int,
    ceiling_dbtp: float,
    lookahead_ms: float = 5.0,
    release_ms: float = 50.0,
    oversample: int = 4,
) -> np.ndarray:
    """Look-ahead limiter that keeps the true peak (4x oversampled, BS.1770-4 Annex 2) <= ceiling.

    The gain reduction needed at each sample comes from the oversampled |x| (`oversample` x).
    It ramps in linearly over the `lookahead_ms` before each peak (the attack, so the peak
    meets full reduction without a sudden gain step) and is released with a one-pole decay
    of time constant `release_ms` (in dB). Where no reduction is needed within
    the look-ahead and release the gain is exactly 1.0, so those samples are bit-identical.
    The smoothed gain can leave a tiny overshoot (the interpolation filter sees the gain
    change), so it aims 0.02 dB low; should a peak still be over, a second pass removes it
    locally, and a last whole-signal scale catches any rest.
    """
    samples = _as_mono_float32(waveform)
    if samples.size == 0:
        return samples
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    lookahead = _samples(lookahead_ms, sample_rate)
    release = _samples(release_ms, sample_rate)
    oversample = max(1, oversample)

    # Aim a hair under the ceiling: the gain's own variation, seen through the interpolation
    # filter, overshoots by up to ~0.01 dB on loud broadband signals.
    target = ceiling * 10.0 ** (-LIMITER_HEADROOM_DB / 20.0)

    limited = samples
    for _ in range(2):
        envelope = _peak_envelope(limited, oversample)
        if envelope.max() <= ceiling:
            return limited
        gain = _limiter_gain(envelope, target, lookahead, release)
        limited = (limited.astype(np.float64) * gain).astype(np.float32)
    peak = true_peak(limited, oversample)
    if peak > ceiling:
        limited = (limited.astype(np.float64) * (ceiling / peak)).astype(np.float32)
    return limited


# --- noise gate -------------------------------------------------------------------------------


def _gate_open_frames(frame_db: np.ndarray, open_db: float, close_db: float) -> np.ndarray:
    """Hysteresis: open above `open_db`, stay open until below `close_db`; starts closed."""
    is_open = np.zeros(frame_db.size, dtype=bool)
    state = False
    for index, level in enumerate(frame_db):  # a few thousand frames per minute: cheap
        if state and level < close_db:
            state = False
        elif not state and level > open_db:
            state = True
        is_open[index] = state
    return is_open


def _gate_gain(is_open: np.ndarray, attenuation_db: float) -> np.ndarray:
    """Per-frame gain: 1 on open frames, attenuation on closed ones, ramped in dB next to open ones."""
    index = np.arange(is_open.size, dtype=np.float64)
    far = float(is_open.size + GATE_ATTACK_FRAMES + GATE_RELEASE_FRAMES + 2)
    last_open = np.maximum.accumulate(np.where(is_open, index, -far))
    next_open = np.minimum.accumulate(np.where(is_open, index, is_open.size + far)[::-1])[::-1]
    # Share of the full attenuation: 0 on an open frame, growing linearly with distance from it.
    after_share = np.minimum((index - last_open) / (GATE_RELEASE_FRAMES + 1), 1.0)
    before_share = np.minimum((next_open - index) / (GATE_ATTACK_FRAMES + 1), 1.0)
    gain_db = attenuation_db * np.minimum(after_share, before_share)
    return 10.0 ** (gain_db / 20.0)


def noise_gate(
    waveform: np.ndarray,
    sample_rate: int,
    open_db: float = -35.0,
    close_db: float = -45.0,
    attenuation_db: float = -30.0,
    n_fft: int = 1024,
    hop: int = 256,
) -> np.ndarray:
    """Attenuate STFT frames whose energy is low (hiss between words), with hysteresis.

    Frame energy is the sum of |X|^2 over bins (Hann window, centered frames), in dB relative
    to the loudest frame. A frame opens the gate when above `open_db` and the gate closes only
    when a frame falls below `close_db`; it starts closed. Closed frames' magnitudes are scaled
    by 10**(attenuation_db/20), ramped over 2 frames before and 3 after each open region;
    open frames keep gain 1, and phase is always kept. Output has the input's length.
    `sample_rate` is accepted for a uniform signature; thresholds are relative, so it is unused.
    Silent input, and input where every frame is open, are returned unchanged.
    """
    del sample_rate
    samples = _as_mono_float32(waveform)
    if samples.size == 0:
        return samples
    window = torch.hann_window(n_fft, dtype=torch.float64)
    signal = torch.from_numpy(samples.astype(np.float64))
    # Zero padding (not reflect) so inputs shorter than half a frame still work.
    spectrum = torch.stft(signal, n_fft, hop, window=window, center=True, pad_mode="constant",
                          return_complex=True)
    frame_energy = (spectrum.abs() ** 2).sum(dim=0).numpy()
    loudest = frame_energy.max()
    if loudest == 0.0:
        return samples
    frame_db = 10.0 * np.log10(np.maximum(frame_energy / loudest, ENERGY_EPSILON))
    is_open = _gate_open_frames(frame_db, open_db, close_db)
    if is_open.all():
        return samples

    gain = torch.from_numpy(_gate_gain(is_open, attenuation_db))
    gated = torch.istft(spectrum * gain, n_fft, hop, window=window, center=True, length=samples.size)
    return gated.numpy().astype(np.float32)


# `postprocess` has a keyword argument named `noise_gate` (the switch), which hides the function.
_noise_gate = noise_gate


# --- fades and joins --------------------------------------------------------------------------


def apply_fades(
    waveform: np.ndarray, sample_rate: int, fade_in_ms: float = 5.0, fade_out_ms: float = 10.0
) -> np.ndarray:
    """Raised-cosine (half-Hann) fade-in at the start and fade-out at the end.

    The first and last samples become exactly 0. Fades longer than the signal are cut to its
    length (and then overlap, multiplying).
    """
    samples = _as_mono_float32(waveform)
    fade_in = min(_samples(fade_in_ms, sample_rate), samples.size)
    fade_out = min(_samples(fade_out_ms, sample_rate), samples.size)
    if fade_in > 0:
        samples[:fade_in] *= _half_hann_ramp(fade_in)
    if fade_out > 0:
        samples[samples.size - fade_out :] *= _half_hann_ramp(fade_out)[::-1]
    return samples


def crossfade_join(
    pieces: list[np.ndarray], sample_rate: int, pauses_s: list[float], crossfade_ms: float = 10.0
) -> np.ndarray:
    """Join pieces with `pauses_s[i]` seconds of silence between piece i and i+1.

    With C = round(crossfade_ms * sample_rate / 1000) and P_i = round(pauses_s[i] * sample_rate):
    - P_i > 0: the output so far fades out over its last min(C, its length) samples and piece
      i+1 fades in over its first min(C, its length) samples (half-Hann), with P_i zeros between.
    - P_i == 0: the two overlap by O_i = min(C, length of the output so far, len(piece i+1))
      samples with an equal-power crossfade (cos/sin weights, Blumlein-style constant power).
    Output length = sum(len(piece)) + sum(P_i) - sum(O_i over joins with P_i == 0),
    i.e. sum(len) + sum(P_i) - C * (number of zero pauses) when every piece is at least C long.
    Raises ValueError unless len(pauses_s) == len(pieces) - 1 (and pieces is non-empty), or if
    a pause is negative. `crossfade_join_with_offsets` also says where each piece begins.
    """
    return crossfade_join_with_offsets(pieces, sample_rate, pauses_s, crossfade_ms)[0]


def crossfade_join_with_offsets(
    pieces: list[np.ndarray], sample_rate: int, pauses_s: list[float], crossfade_ms: float = 10.0
) -> tuple[np.ndarray, list[int]]:
    """`crossfade_join`, and for each piece the output sample its first sample lands on: 0 for
    the first; after a pause, the length so far plus P_i; after a zero pause, the length so far
    minus the overlap O_i. (Word timings of a piece move by its offset.)"""
    if not pieces:
        raise ValueError("crossfade_join needs at least one piece")
    if len(pauses_s) != len(pieces) - 1:
        raise ValueError(
            f"need one pause per join: {len(pieces)} pieces take {len(pieces) - 1} pauses, "
            f"got {len(pauses_s)}"
        )
    if any(pause < 0 for pause in pauses_s):
        raise ValueError(f"pauses must be >= 0 seconds, got {list(pauses_s)}")
    crossfade = _samples(crossfade_ms, sample_rate)

    joined = _as_mono_float32(pieces[0])
    offsets = [0]
    for piece, pause_s in zip(pieces[1:], pauses_s):
        following = _as_mono_float32(piece)
        pause = int(round(pause_s * sample_rate))
        if pause > 0:
            fade_out = min(crossfade, joined.size)
            fade_in = min(crossfade, following.size)
            if fade_out > 0:
                joined[joined.size - fade_out :] *= _half_hann_ramp(fade_out)[::-1]
            if fade_in > 0:
                following[:fade_in] *= _half_hann_ramp(fade_in)
            offsets.append(joined.size + pause)
            joined = np.concatenate([joined, np.zeros(pause, dtype=np.float32), following])
            continue
        overlap = min(crossfade, joined.size, following.size)
        offsets.append(joined.size - overlap)
        if overlap == 0:
            joined = np.concatenate([joined, following])
            continue
        # Weights strictly inside (0, 1): neither side is dropped at the overlap's ends.
        position = (np.arange(overlap) + 1.0) / (overlap + 1.0) * (np.pi / 2.0)
        mixed = joined[-overlap:] * np.cos(position) + following[:overlap] * np.sin(position)
        joined = np.concatenate([joined[:-overlap], mixed.astype(np.float32), following[overlap:]])
    return joined, offsets


# --- the chain --------------------------------------------------------------------------------


def postprocess(
    waveform: np.ndarray,
    sample_rate: int,
    *,
    noise_gate: bool = True,
    trim: bool = True,
    loudness_lufs: float | None = -20.0,
    limit_dbtp: float | None = -1.0,
    fades: bool = True,
) -> np.ndarray:
    """noise gate -> trim -> loudness normalization -> true-peak limit -> fades; each can be off.

    `loudness_lufs` / `limit_dbtp` set to None skip that step. If the limiter has to act, the
    final loudness ends slightly below `loudness_lufs` (peaks were pulled down).
    `postprocess_with_offset` also says how many samples the trim cut from the start.
    """
    return postprocess_with_offset(waveform, sample_rate, noise_gate=noise_gate, trim=trim,
                                   loudness_lufs=loudness_lufs, limit_dbtp=limit_dbtp, fades=fades)[0]


def postprocess_with_offset(
    waveform: np.ndarray,
    sample_rate: int,
    *,
    noise_gate: bool = True,
    trim: bool = True,
    loudness_lufs: float | None = -20.0,
    limit_dbtp: float | None = -1.0,
    fades: bool = True,
) -> tuple[np.ndarray, int]:
    """`postprocess`, and the number of input samples cut from the start: output sample k is input
    sample k + that number. Only the trim changes where samples lie; the gate, the gains and the
    fades keep every sample in place."""
    # Order: the gate runs before trimming so the trim threshold sees hiss already removed
    # (hiss near the ends would otherwise be kept as "sound"); loudness is measured on the
    # trimmed signal so leading/trailing silence plays no part; the limiter follows the
    # loudness gain because that gain can push peaks over the ceiling; fades come last so
    # the ends are exactly zero whatever the earlier gains did.
    processed = _as_mono_float32(waveform)
    cut_start = 0
    if noise_gate:
        processed = _noise_gate(processed, sample_rate)
    if trim:
        cut_start, end = silence_bounds(processed, sample_rate)
        processed = processed[cut_start:end].copy()
    if loudness_lufs is not None:
        processed = loudness_normalize(processed, sample_rate, loudness_lufs)
    if limit_dbtp is not None:
        processed = true_peak_limit(processed, sample_rate, limit_dbtp)
    if fades:
        processed = apply_fades(processed, sample_rate)
    return processed, cut_start
