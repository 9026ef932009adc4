"""Voice activity detection with Silero VAD, the ONNX model that ships inside the faster-whisper wheel.

The model is found with importlib (no download) and run with onnxruntime. It reads 16 kHz audio in
windows of 512 samples (32 ms), each preceded by the last 64 samples of the window before it, and
returns one speech probability per window; its recurrent state (h, c) carries over between calls.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from tacotron.errors import UserError

VAD_SAMPLE_RATE = 16000
WINDOW_SAMPLES = 512  # Silero VAD's window at 16 kHz (32 ms)
CONTEXT_SAMPLES = 64  # samples of the previous window the model sees in front of each window
STATE_SHAPE = (1, 1, 128)  # the LSTM state of the v6 model (inputs "h" and "c")
WINDOWS_PER_CALL = 10000  # windows per onnxruntime call: bounds memory on hour-long files
MODEL_FILE = "silero_vad_v6.onnx"
# Silero's own hysteresis: speech ends only when the probability falls this far below the threshold.
HYSTERESIS = 0.15


def silero_model_path() -> Path:
    """The ONNX file in faster_whisper/assets, located through the import system."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("voice activity detection needs faster-whisper (it ships Silero VAD): "
                        "pip install 'tacotron[asr]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / MODEL_FILE
    if not path.is_file():
        raise UserError(f"Silero VAD model not found at {path}: this faster-whisper version does not ship "
                        f"{MODEL_FILE}")
    return path


@dataclass
class SpeechRegion:
    start: float  # seconds
    end: float


class SileroVad:
    """Speech probabilities for a whole waveform, one per 32 ms window."""

    frame_seconds = WINDOW_SAMPLES / VAD_SAMPLE_RATE

    def __init__(self, threads: int = 1):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(silero_model_path()), sess_options=options,
                                                     providers=["CPUExecutionProvider"])

    def speech_probabilities(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 [windows]: P(speech) of each 32 ms window (the last one zero-padded)."""
        audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
        if sample_rate != VAD_SAMPLE_RATE and audio.size:
            audio = soxr.resample(audio, sample_rate, VAD_SAMPLE_RATE).astype(np.float32)
        count = -(-audio.size // WINDOW_SAMPLES)
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        padded = np.zeros(count * WINDOW_SAMPLES, dtype=np.float32)
        padded[:audio.size] = audio
        windows = padded.reshape(count, WINDOW_SAMPLES)
        context = np.zeros((count, CONTEXT_SAMPLES), dtype=np.float32)
        context[1:] = windows[:-1, -CONTEXT_SAMPLES:]
        batch = np.concatenate([context, windows], axis=1)
        h = np.zeros(STATE_SHAPE, dtype=np.float32)
        c = np.zeros(STATE_SHAPE, dtype=np.float32)
        outputs = []
        for first in range(0, count, WINDOWS_PER_CALL):
            probabilities, h, c = self._session.run(
                None, {"input": batch[first:first + WINDOWS_PER_CALL], "h": h, "c": c})
            outputs.append(np.asarray(probabilities, dtype=np.float32).reshape(-1))
        return np.concatenate(outputs)


def speech_regions(probabilities: np.ndarray, frame_seconds: float, threshold: float,
                   min_silence_seconds: float, min_speech_seconds: float) -> list[SpeechRegion]:
    """Runs of speech windows: speech starts at a window >= threshold (moved back over the windows
    before it that are >= threshold - HYSTERESIS) and ends when the probability stays below
    threshold - HYSTERESIS for min_silence_seconds (Silero VAD's own rule); runs shorter
    than min_speech_seconds are dropped. Times are window edges."""
    low = threshold - HYSTERESIS
    min_silence = max(1, int(round(min_silence_seconds / frame_seconds)))
    regions: list[SpeechRegion] = []
    start = None
    silent_since = None
    for index, probability in enumerate(probabilities):
        if start is None:
            if probability >= threshold:
                # The same hysteresis backwards: speech began where the probability first rose
                # above the low threshold (unvoiced onsets such as "k", "s" score low at first).
                start, silent_since = index, None
                floor = int(round(regions[-1].end / frame_seconds)) if regions else 0
                while start - 1 >= floor and probabilities[start - 1] >= low:
                    start -= 1
            continue
        if probability >= low:
            silent_since = None
        elif silent_since is None:
            silent_since = index
        elif index - silent_since + 1 >= min_silence:
            regions.append(SpeechRegion(start * frame_seconds, silent_since * frame_seconds))
            start, silent_since = None, None
    if start is not None:
        end = silent_since if silent_since is not None else len(probabilities)
        regions.append(SpeechRegion(start * frame_seconds, end * frame_seconds))
    return [region for region in regions if region.end - region.start >= min_speech_seconds]
