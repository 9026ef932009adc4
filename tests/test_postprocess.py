"""Waveform post-processing: each step measured on synthetic signals with known levels."""

import sys

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

from tacotron.config import PostprocessConfig
from tacotron.audio.postprocess import (
    apply_fades,
    crossfade_join,
    integrated_loudness,
    loudness_normalize,
    noise_gate,
    postprocess,
    trim_silence,
    true_peak,
    true_peak_limit,
)

SR = 22050
# The settings defaults (config.py), the one place they are defined.
LUFS, CEILING = PostprocessConfig().loudness_lufs, PostprocessConfig().true_peak_dbtp


def tone(seconds: float, amplitude: float, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def white_noise(seconds: float, rms_dbfs: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(int(round(seconds * SR)))
    return (noise * 10 ** (rms_dbfs / 20)).astype(np.float32)


def speech_like(seconds: float, seed: int = 1) -> np.ndarray:
    """Harmonic stack on a 120 Hz pitch, gated by a 4 Hz syllable envelope, plus a little noise."""
    t = np.arange(int(round(seconds * SR))) / SR
    voiced = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    return (0.1 * voiced * syllables + white_noise(seconds, -70, seed)).astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def seconds(start: float, stop: float) -> slice:
    return slice(int(round(start * SR)), int(round(stop * SR)))


def measured_lufs(x: np.ndarray) -> float:
    return pyloudnorm.Meter(SR).integrated_loudness(x.astype(np.float64))


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [
    lambda x: trim_silence(x, SR), lambda x: loudness_normalize(x, SR, LUFS), lambda x: true_peak(x),
    lambda x: true_peak_limit(x, SR, CEILING), lambda x: noise_gate(x, SR), lambda x: apply_fades(x, SR),
    lambda x: postprocess(x, SR),
])
def test_two_dimensional_input_is_rejected(step):
    with pytest.raises(ValueError, match="mono"):
        step(np.zeros((2, SR), dtype=np.float32))


def test_float64_input_comes_back_float32():
    out = apply_fades(np.ones(1000, dtype=np.float64), SR)
    assert out.dtype == np.float32 and out.shape == (1000,)


# --- noise gate -------------------------------------------------------------------------------


def test_noise_gate_removes_hiss_between_bursts_and_keeps_bursts():
    # Tone bursts near full scale, hiss at -55 dBFS throughout: hiss frames sit ~51 dB below
    # the bursts, under the -45 dB close threshold.
    burst = tone(0.6, 0.9)
    silence = np.zeros(int(0.8 * SR), dtype=np.float32)
    clean = np.concatenate([burst, silence, burst])
    noisy = clean + white_noise(clean.size / SR, -55.0)
    gated = noise_gate(noisy, SR)

    assert gated.shape == noisy.shape and gated.dtype == np.float32
    gap = seconds(0.6 + 0.15, 1.4 - 0.15)  # away from the attack/release ramps
    reduction_db = rms_db(noisy[gap]) - rms_db(gated[gap])
    assert reduction_db >= 10.0, reduction_db
    for burst_interior in (seconds(0.1, 0.5), seconds(1.5, 1.9)):
        assert abs(rms_db(gated[burst_interior]) - rms_db(noisy[burst_interior])) <= 0.5


def test_noise_gate_hysteresis_depends_on_the_state_it_came_from():
    # A level 40 dB below the loudest frame lies between close (-45) and open (-35):
    # after a loud part the gate stays open, after silence it stays closed.
    loud = tone(0.5, 1.0)
    middle = tone(0.5, 0.01)
    silence = np.zeros(int(0.5 * SR), dtype=np.float32)
    signal = np.concatenate([loud, middle, silence, middle])
    gated = noise_gate(signal, SR, open_db=-35.0, close_db=-45.0, attenuation_db=-30.0)

    after_open = seconds(0.6, 0.9)
    after_closed = seconds(1.6, 1.9)
    assert abs(rms_db(gated[after_open]) - rms_db(signal[after_open])) <= 0.5
    attenuation = rms_db(signal[after_closed]) - rms_db(gated[after_closed])
    assert 25.0 <= attenuation <= 35.0, attenuation


def test_noise_gate_leaves_silence_and_all_open_signals_alone():
    assert np.array_equal(noise_gate(np.zeros(5000, np.float32), SR), np.zeros(5000, np.float32))
    steady = tone(1.0, 0.5)
    assert np.array_equal(noise_gate(steady, SR), steady)
    short = noise_gate(tone(0.01, 0.5), SR)
    assert short.shape == (int(round(0.01 * SR)),)


# --- loudness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [-23.0, -16.0])
@pytest.mark.parametrize("make_signal", [lambda: white_noise(3.0, -30.0), lambda: speech_like(3.0)])
def test_loudness_normalize_reaches_target(target, make_signal):
    signal = make_signal()
    assert abs(measured_lufs(signal) - target) > 3.0  # the test is not passing by accident
    normalized = loudness_normalize(signal, SR, target_lufs=target)
    assert normalized.dtype == np.float32
    assert abs(measured_lufs(normalized) - target) <= 0.5
    assert integrated_loudness(normalized, SR) == pytest.approx(measured_lufs(normalized), abs=1e-6)


def test_loudness_normalize_leaves_short_and_silent_input_unchanged():
    short = tone(0.3, 0.1)
    assert integrated_loudness(short, SR) == float("-inf")
    assert np.array_equal(loudness_normalize(short, SR, LUFS), short)
    silent = np.zeros(SR, dtype=np.float32)
    assert integrated_loudness(silent, SR) == float("-inf")
    assert np.array_equal(loudness_normalize(silent, SR, LUFS), silent)


# --- true peak --------------------------------------------------------------------------------


def inter_sample_peak_sine(peak: float, seconds_long: float = 1.0) -> np.ndarray:
    """A sine at fs/4 with 45 degree phase: samples are +-peak/sqrt(2), the waveform peaks at `peak`.

    The ends are tapered over 20 ms: a hard start is broadband and really does overshoot.
    """
    n = np.arange(int(seconds_long * SR))
    taper = np.minimum(1.0, np.minimum(n, n.size - 1 - n) / (0.020 * SR))
    return (peak * taper * np.sin(np.pi / 2 * n + np.pi / 4)).astype(np.float32)


def test_true_peak_finds_inter_sample_peaks():
    x = inter_sample_peak_sine(1.2)
    assert np.abs(x).max() < 1.0
    assert 20 * np.log10(true_peak(x)) == pytest.approx(20 * np.log10(1.2), abs=0.1)
    noise = white_noise(1.0, -10.0)
    reference = np.abs(resample_poly(noise.astype(np.float64), 4, 1)).max()
    assert true_peak(noise) == pytest.approx(max(reference, np.abs(noise).max()), rel=1e-3)


def test_true_peak_limit_brings_inter_sample_peaks_under_the_ceiling():
    x = inter_sample_peak_sine(1.2)
    limited = true_peak_limit(x, SR, ceiling_dbtp=-1.0)
    out_dbtp = 20 * np.log10(true_peak(limited))
    assert out_dbtp <= -1.0 + 0.05
    assert out_dbtp >= -1.0 - 0.1  # limited to the ceiling, not far below it


def test_true_peak_limit_leaves_quiet_audio_bit_identical():
    quiet = tone(1.0, 0.3)
    assert np.array_equal(true_peak_limit(quiet, SR, CEILING), quiet)
    # A loud burst in the middle: audio well before it (more than the look-ahead) is untouched,
    # and so is audio long after it (the release has decayed to exactly unit gain).
    signal = np.concatenate([tone(1.0, 0.3), tone(0.5, 2.0), tone(2.0, 0.3)])
    limited = true_peak_limit(signal, SR, CEILING)
    assert 20 * np.log10(true_peak(limited)) <= -1.0 + 0.05
    assert np.array_equal(limited[seconds(0.0, 0.99)], signal[seconds(0.0, 0.99)])
    assert np.array_equal(limited[seconds(2.5, 3.5)], signal[seconds(2.5, 3.5)])


def python_lines_run(function) -> int:
    """How many lines of Python code (any module) a call runs: the work left to the interpreter."""
    lines = 0

    def trace(frame, event, argument):
        nonlocal lines
        lines += event == "line"
        return trace

    sys.settrace(trace)
    try:
        function()
    finally:
        sys.settrace(None)
    return lines


def test_true_peak_limit_does_no_per_sample_python_work():
    # The limiter must stay vectorized (numpy/scipy loops, none in Python: a minute of audio at
    # 22 kHz is 1.3 million samples). Counted rather than timed, so a busy machine cannot fail it:
    # a minute of loud audio runs no more Python than a second of it.
    loud = white_noise(60.0, -6.0)
    true_peak_limit(loud[:SR], SR, CEILING)  # first call: filter design and caches
    second = python_lines_run(lambda: true_peak_limit(loud[:SR], SR, CEILING))
    minute = python_lines_run(lambda: true_peak_limit(loud, SR, CEILING))
    assert minute <= second + 100, (second, minute)  # a loop per sample would add millions
    assert 20 * np.log10(true_peak(true_peak_limit(loud, SR, CEILING))) <= -1.0 + 0.05


# --- trim and fades ---------------------------------------------------------------------------


def test_trim_silence_keeps_the_margin_around_the_sound():
    speech = tone(1.0, 0.5)
    signal = np.concatenate([np.zeros(SR, np.float32), speech, np.zeros(SR // 2, np.float32)])
    trimmed = trim_silence(signal, SR, threshold_db=-40.0, margin_ms=20.0)

    onset = np.flatnonzero(np.abs(trimmed) > 1e-3)[0] / SR
    offset = (trimmed.size - 1 - np.flatnonzero(np.abs(trimmed) > 1e-3)[-1]) / SR
    assert onset == pytest.approx(0.020, abs=0.010)
    assert offset == pytest.approx(0.020, abs=0.010)
    assert trimmed.size / SR == pytest.approx(1.0 + 0.040, abs=0.020)


def test_trim_silence_on_silence_returns_a_short_nonempty_array():
    trimmed = trim_silence(np.zeros(SR, np.float32), SR, margin_ms=20.0)
    assert 1 <= trimmed.size <= int(0.020 * SR) + 1


def test_apply_fades_zero_ends_and_untouched_middle():
    x = np.full(SR, 0.5, dtype=np.float32)
    faded = apply_fades(x, SR, fade_in_ms=5.0, fade_out_ms=10.0)
    assert faded[0] == 0.0 and faded[-1] == 0.0
    assert np.array_equal(faded[int(0.005 * SR) : -int(0.010 * SR)], x[int(0.005 * SR) : -int(0.010 * SR)])
    assert np.all(np.diff(faded[: int(0.005 * SR)]) > 0)  # a monotonic rise, no ripple
    assert faded[int(0.005 * SR) - 1] > 0.49


# --- joins ------------------------------------------------------------------------------------


def test_crossfade_join_length_formula():
    pieces = [np.ones(3000, np.float32), np.ones(4000, np.float32), np.ones(5000, np.float32)]
    crossfade = int(round(0.010 * SR))
    joined = crossfade_join(pieces, SR, [0.25, 0.0], crossfade_ms=10.0)
    assert joined.size == 3000 + 4000 + 5000 + int(round(0.25 * SR)) - crossfade
    joined = crossfade_join(pieces, SR, [0.0, 0.0], crossfade_ms=10.0)
    assert joined.size == 12000 - 2 * crossfade
    assert crossfade_join(pieces[:1], SR, []).size == 3000


def test_crossfade_join_rejects_wrong_pause_count():
    with pytest.raises(ValueError, match="pause"):
        crossfade_join([np.ones(100, np.float32)] * 3, SR, [0.1])
    with pytest.raises(ValueError):
        crossfade_join([], SR, [])


@pytest.mark.parametrize("pauses", [[0.0, 0.0], [0.1, 0.1], [0.0, 0.1]])
def test_crossfade_join_does_not_click(pauses):
    # DC offsets of opposite sign: a plain concatenation would jump by 1.0 (or 0.5 into silence).
    dc_pieces = [np.full(4410, 0.5, np.float32), np.full(4410, -0.5, np.float32), np.full(4410, 0.5, np.float32)]
    assert np.abs(np.diff(np.concatenate(dc_pieces))).max() >= 1.0
    joined = crossfade_join(dc_pieces, SR, pauses)
    assert np.abs(np.diff(joined)).max() <= 0.01

    tones = [tone(0.2, 0.5, 220.0), -tone(0.2, 0.5, 330.0)[::-1].copy(), tone(0.2, 0.5, 220.0)]
    steepest_inside = max(np.abs(np.diff(piece)).max() for piece in tones)
    joined = crossfade_join(tones, SR, pauses)
    assert np.abs(np.diff(joined)).max() <= 1.25 * steepest_inside


# --- the chain --------------------------------------------------------------------------------


def test_postprocess_meets_loudness_and_true_peak_targets():
    # Speech-like sound (loudest 10 ms frame about -20 dBFS, 2.875 s from first to last syllable)
    # between 0.5 s stretches of hiss 50 dB below it.
    hiss = -70.0
    signal = np.concatenate([white_noise(0.5, hiss, 3), speech_like(3.0), white_noise(0.5, hiss, 4)])
    out = postprocess(signal, SR, loudness_lufs=-20.0, limit_dbtp=-1.0)

    assert abs(measured_lufs(out) - (-20.0)) <= 0.5
    assert 20 * np.log10(true_peak(out)) <= -1.0 + 0.05
    assert out[0] == 0.0 and out[-1] == 0.0
    assert out.size / SR == pytest.approx(2.875 + 0.040, abs=0.1)  # hiss trimmed, 20 ms margins kept


def test_postprocess_limiter_catches_peaks_pushed_up_by_loudness_gain():
    peaky = np.concatenate([speech_like(3.0), tone(0.05, 0.9, 3000.0), speech_like(1.0, seed=5)])
    out = postprocess(peaky, SR, noise_gate=False, trim=False, loudness_lufs=-12.0, limit_dbtp=-1.0)
    assert 20 * np.log10(true_peak(out)) <= -1.0 + 0.05
    everything_off = postprocess(peaky, SR, noise_gate=False, trim=False, loudness_lufs=None,
                                 limit_dbtp=None, fades=False)
    assert np.array_equal(everything_off, peaky)
