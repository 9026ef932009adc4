"""eSpeak NG speech synthesis through its C API (ctypes), using the library bundled by espeakng_loader.

The library keeps one global synthesizer per process, shared with the phonemizer: it is loaded once
by text/espeak_library.py and every call that touches it holds that module's LOCK; the voice and rate
are set again on each call because another EspeakVoice (or the phonemizer) may have changed them.
"""

from __future__ import annotations

import ctypes

import numpy as np

from tacotron.errors import UserError
from tacotron.text import espeak_library
from tacotron.text.espeak_library import EE_OK, LOCK

# Constants from eSpeak NG's speak_lib.h.
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1
ESPEAK_PITCH = 3  # base pitch, 0-100 (the voice's own pitch at 50)

# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events); the events are not needed.
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_callback: object = None  # the ctypes callback must outlive every synthesis, or eSpeak calls freed memory
_callback_library: ctypes.CDLL | None = None  # the library instance it is installed in (restart() makes another)
_chunks: list[np.ndarray] = []  # filled by the callback while LOCK is held


def _on_audio(wav, num_samples: int, events) -> int:
    if wav and num_samples > 0:
        _chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
    return 0  # 0 = continue synthesis


def _load_library() -> ctypes.CDLL:
    """The shared library with this module's audio callback installed (once per library instance);
    the caller holds LOCK."""
    global _callback, _callback_library
    library = espeak_library.load()
    if _callback_library is not library:
        library.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        library.espeak_SetSynthCallback.restype = None
        _callback = _callback or _SYNTH_CALLBACK(_on_audio)
        library.espeak_SetSynthCallback(_callback)
        _callback_library = library
    return library


def restart_synthesizer() -> None:
    """Speak the next sentences as a new process would: eSpeak NG carries state from one sentence to
    the next (espeak_library.restart), so without this a sentence's audio depends on what was said
    before it."""
    with LOCK:
        espeak_library.restart()


class EspeakVoice:
    """One eSpeak NG voice (e.g. "en", "ru"); synthesizes float32 mono audio at `sample_rate`.
    `variant` is one of eSpeak's voice variants ("m3", "f2": another timbre and pitch, selected as
    "en+f2") and `pitch` its base pitch parameter (0-100; None: the voice's own)."""

    def __init__(self, language: str, words_per_minute: int | None = None, variant: str = "",
                 pitch: int | None = None):
        self.language = language
        self.words_per_minute = words_per_minute
        self.variant = variant
        self.pitch = pitch
        with LOCK:
            library = _load_library()
            self.sample_rate = espeak_library.sample_rate()
            self.default_words_per_minute = library.espeak_GetParameter(ESPEAK_RATE, 0)
            self.default_pitch = library.espeak_GetParameter(ESPEAK_PITCH, 0)
            self._select_voice(library)

    def _select_voice(self, library: ctypes.CDLL) -> None:
        espeak_library.select_voice(library, f"{self.language}+{self.variant}" if self.variant else self.language)
        rate = self.words_per_minute or self.default_words_per_minute
        if library.espeak_SetParameter(ESPEAK_RATE, rate, 0) != EE_OK:
            raise UserError(f"eSpeak NG rejected a speaking rate of {rate} words per minute")
        pitch = self.default_pitch if self.pitch is None else self.pitch
        if library.espeak_SetParameter(ESPEAK_PITCH, pitch, 0) != EE_OK:
            raise UserError(f"eSpeak NG rejected a pitch of {pitch} (0-100)")

    def synthesize(self, text: str) -> np.ndarray:
        """Speak `text` (plain text, no SSML); returns float32 mono samples in [-1, 1]."""
        encoded = text.encode("utf-8") + b"\0"
        with LOCK:
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
