"""The one loader of the eSpeak NG library bundled by espeakng_loader (ctypes), for phonemes and speech.

The library keeps one global state per process (the selected voice, parameters, the synthesis
callback), so it is loaded and initialized once, lazily, and every call into it holds `LOCK`.
It lives in text/ (the bottom of the package) so that text.phonemes and audio.espeak share it.
"""

from __future__ import annotations

import _ctypes
import ctypes
import threading

import espeakng_loader

from tacotron.errors import UserError

# Constants from eSpeak NG's speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2
EE_OK = 0
BUFFER_MILLISECONDS = 200

# Held around every call into the library, including a whole voice selection + synthesis.
LOCK = threading.Lock()
_library: ctypes.CDLL | None = None
_sample_rate = 0
_voice = ""  # the voice selected last: selecting a voice reloads its dictionary (Russian's: ~20 ms)


def load() -> ctypes.CDLL:
    """The initialized library with the argument types of the functions used; the caller holds LOCK."""
    global _library, _sample_rate
    if _library is not None:
        return _library
    library = ctypes.CDLL(espeakng_loader.get_library_path())
    library.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    library.espeak_Initialize.restype = ctypes.c_int
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
    # const char *espeak_TextToPhonemes(const void **textptr, int textmode, int phonememode)
    library.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    library.espeak_TextToPhonemes.restype = ctypes.c_char_p
    library.espeak_Terminate.argtypes = []
    library.espeak_Terminate.restype = ctypes.c_int

    # Synchronous retrieval: espeak_Synth returns only when the audio is complete, and the callback
    # runs on the calling thread (no eSpeak worker thread calling back into Python).
    data_path = espeakng_loader.get_data_path().encode()
    sample_rate = library.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MILLISECONDS, data_path, 0)
    if sample_rate <= 0:
        raise RuntimeError(f"eSpeak NG failed to initialize with data at {data_path.decode()}")
    _library, _sample_rate = library, sample_rate
    return library


def restart() -> None:
    """Unload the library; the next load() starts it afresh. eSpeak NG keeps synthesis state in C
    statics that no call resets (wavegen.c's pitch-flutter phase), so the audio of a sentence
    depends on everything spoken before it in the process; after a restart it is what a new process
    would speak. The caller holds LOCK and keeps no function of the old library."""
    global _library, _voice
    if _library is None:
        return
    _library.espeak_Terminate()
    _ctypes.dlclose(_library._handle)
    _library, _voice = None, ""


def sample_rate() -> int:
    """The rate of the audio espeak_Synth produces (Hz); the caller holds LOCK."""
    load()
    return _sample_rate


def select_voice(library: ctypes.CDLL, voice: str) -> None:
    """Make `voice` (e.g. "en-us", "ru") the current one; the caller holds LOCK."""
    global _voice
    if voice == _voice:
        return
    if library.espeak_SetVoiceByName(voice.encode()) != EE_OK:
        raise UserError(f"eSpeak NG has no voice for language {voice!r}")
    _voice = voice
