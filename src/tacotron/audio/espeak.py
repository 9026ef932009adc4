"""eSpeak NG speech synthesis through its C API (ctypes), using the library bundled by espeakng_loader.

The library keeps one global synthesizer per process, so it is initialized once (lazily) and every
call that touches it holds `_LOCK`; the voice and rate are set again on each call because another
EspeakVoice may have changed them in between.
"""

from __future__ import annotations

import ctypes
import threading

import espeakng_loader
import numpy as np

from tacotron.errors import UserError

# Constants from eSpeak NG's speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1
EE_OK = 0
BUFFER_MILLISECONDS = 200

# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events); the events are not needed.
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_LOCK = threading.Lock()
_library: ctypes.CDLL | None = None
_sample_rate = 0
_callback: object = None  # the ctypes callback must outlive every synthesis, or eSpeak calls freed memory
_chunks: list[np.ndarray] = []  # filled by the callback while _LOCK is held


def _on_audio(wav, num_samples: int, events) -> int:
    if wav and num_samples > 0:
        _chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
    return 0  # 0 = continue synthesis


def _load_library() -> ctypes.CDLL:
    """Load and initialize eSpeak NG once per process; the caller holds _LOCK."""
    global _library, _sample_rate, _callback
    if _library is not None:
        return _library
    library = ctypes.CDLL(espeakng_loader.get_library_path())
    library.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    library.espeak_Initialize.restype = ctypes.c_int
    library.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    library.espeak_SetSynthCallback.restype = None
    library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    library.espeak_SetVoiceByName.restype = ctypes.c_int
    library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    library.espeak_SetParameter.restype = ctypes.c_int
    library.espeak_GetParameter.argtypes = [ctypes.c_int, ctypes.c_int]
    library.espeak_GetParameter.restype = ctypes.c_int
    library.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_void_p, ctypes.c_void_p,
    ]
    library.espeak_Synth.restype = ctypes.c_int

    # Synchronous retrieval: espeak_Synth returns only when the audio is complete, and the callback
    # runs on the calling thread (no eSpeak worker thread calling back into Python).
    data_path = espeakng_loader.get_data_path().encode()
    sample_rate = library.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MILLISECONDS, data_path, 0)
    if sample_rate <= 0:
        raise RuntimeError(f"eSpeak NG failed to initialize with data at {data_path.decode()}")
    _callback = _SYNTH_CALLBACK(_on_audio)
    library.espeak_SetSynthCallback(_callback)
    _library, _sample_rate = library, sample_rate
    return library


class EspeakVoice:
    """One eSpeak NG voice (e.g. "en", "ru"); synthesizes float32 mono audio at `sample_rate`."""

    def __init__(self, language: str, words_per_minute: int | None = None):
        self.language = language
        self.words_per_minute = words_per_minute
        with _LOCK:
            library = _load_library()
            self.sample_rate = _sample_rate
            self.default_words_per_minute = library.espeak_GetParameter(ESPEAK_RATE, 0)
            self._select_voice(library)

    def _select_voice(self, library: ctypes.CDLL) -> None:
        if library.espeak_SetVoiceByName(self.language.encode()) != EE_OK:
            raise UserError(f"eSpeak NG has no voice for language {self.language!r}")
        rate = self.words_per_minute or self.default_words_per_minute
        if library.espeak_SetParameter(ESPEAK_RATE, rate, 0) != EE_OK:
            raise UserError(f"eSpeak NG rejected a speaking rate of {rate} words per minute")

    def synthesize(self, text: str) -> np.ndarray:
        """Speak `text` (plain text, no SSML); returns float32 mono samples in [-1, 1]."""
        encoded = text.encode("utf-8") + b"\0"
        with _LOCK:
            library = _load_library()
            self._select_voice(library)
            _chunks.clear()
            try:
                status = library.espeak_Synth(encoded, len(encoded), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
                samples = np.concatenate(_chunks) if _chunks else np.zeros(0, dtype=np.int16)
            finally:
                _chunks.clear()
        if status != EE_OK:
            raise RuntimeError(f"eSpeak NG synthesis failed (error {status}) for text {text!r}")
        return samples.astype(np.float32) / 32768.0
