"""Making a corpus on disk: the sentence lists spoken by the corpus voices, written in the LJSpeech layout
(metadata.csv, wavs/, test_sentences.csv, test_wavs/, corpus.json), resumable."""

from __future__ import annotations

import json
import re
from pathlib import Path

import soundfile
from tqdm import tqdm

from tacotron.audio.espeak import EspeakVoice
from tacotron.audio.io import save_wav
from tacotron.audio.postprocess import trim_silence
from tacotron.audio.source_voices import (SOURCE_VOICES, EspeakSourceVoice, SourceVoice, check_voice_language,
                                          open_source_voice)
from tacotron.data.corpus.sentences import (GENERATOR_VERSION, check_language, generate_sentences,
                                            generate_test_sentences)
from tacotron.data.corpus.word_coverage import held_out_word_share, running_text_coverage, spoken_words
from tacotron.errors import UserError
from tacotron.files import atomic_write_text, remove_stale_temp_files
from tacotron.text import get_frontend

DEFAULT_COUNT = 2000
# The corpus's audio rate: the project's (AudioConfig.sample_rate), eSpeak's and Piper's own.
CORPUS_SAMPLE_RATE = 22050
# Sentences handed to a voice at once (Festival speaks a batch in one process; see source_voices).
SYNTHESIS_BATCH = 32
# Silence trimming: 10 ms frames; a frame is speech when its RMS is within 40 dB of the loudest frame.
TRIM_THRESHOLD_DB = -40.0
TRIM_KEEP_MS = 50.0
# `--speakers N` takes the first N of these eSpeak NG voices: (voice variant, pitch 0-100), the
# speaker named "VARIANT-PITCH" (so that a changed voice is a new speaker, whose wavs are remade).
# Variants differ in timbre; the pitches spread the mean F0 of English speech (librosa.pyin) over
# about 100-250 Hz: m3-40 ~ 100 Hz, f4-50 ~ 178, m1-80 ~ 126, f2-75 ~ 248. Lower voices lose their
# pitch in a log-mel + Griffin-Lim round trip (m3 at pitch 25, ~83 Hz, often came back unvoiced).
SPEAKER_VOICES = [("m3", 40), ("f4", 50), ("m1", 80), ("f2", 75), ("m7", 55), ("f3", 35)]


def speaker_name(variant: str, pitch: int) -> str:
    return f"{variant}-{pitch}"


def speakable(normalized: str) -> str:
    """What a corpus voice reads for a normalized transcript."""
    # "+" marks stress in Russian transcripts; eSpeak would read it aloud as "plus".
    return normalized.replace("+", "")


def _read_transcripts(path: Path) -> dict[str, str]:
    """id -> normalized text (and speaker, when there is one) of an existing metadata file, to tell
    which wavs still match."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return {fields[0]: "|".join(fields[2:]) for fields in (line.split("|") for line in lines) if len(fields) >= 3}


def _metadata(utterances: list[tuple[str, str, str]], speakers: list[str] | None = None) -> str:
    """LJSpeech lines `id|text|normalized`, with a fourth column `speaker` when `speakers` is given."""
    suffixes = [f"|{speaker}" for speaker in speakers] if speakers else [""] * len(utterances)
    return "".join(f"{utterance_id}|{text}|{normalized}{suffix}\n"
                   for (utterance_id, text, normalized), suffix in zip(utterances, suffixes))


def speaker_voice(language: str, name: str) -> EspeakVoice:
    """The eSpeak NG voice of a `SPEAKER_VOICES` speaker of the multi-speaker corpus."""
    variants = {speaker_name(variant, pitch): (variant, pitch) for variant, pitch in SPEAKER_VOICES}
    if name not in variants:
        raise UserError(f"no corpus speaker named {name!r}; speakers: {', '.join(variants)}")
    variant, pitch = variants[name]
    return EspeakVoice(language, variant=variant, pitch=pitch)


def _remove_stale_wavs(folder: Path, id_pattern: re.Pattern, wanted: set[str]) -> None:
    # Clips of a former, larger corpus would otherwise sit next to the metadata that no longer lists them.
    for path in folder.glob("*.wav"):
        if id_pattern.fullmatch(path.stem) and path.stem not in wanted:
            path.unlink()


def _speakers(language: str, voices: list[str], speakers: int) -> dict[str, SourceVoice | None]:
    """Speaker name -> its voice, opened later (None until then); "" names the one speaker of a
    single-speaker corpus. Several voices speak as themselves ("slt", "joe"); `speakers` > 1 takes eSpeak's
    variants instead."""
    for name in voices:
        check_voice_language(name, language)
    if len(set(voices)) != len(voices):
        raise UserError(f"--voice names a voice twice: {', '.join(voices)}")
    if speakers > 1:
        if voices != ["espeak"]:
            raise UserError("--speakers N makes eSpeak speakers; for several other voices name them in --voice")
        return {speaker_name(variant, pitch): None for variant, pitch in SPEAKER_VOICES[:speakers]}
    return {name: None for name in voices} if len(voices) > 1 else {"": None}


def _open_speaker(language: str, voices: list[str], speaker: str, sample_rate: int) -> SourceVoice:
    if speaker == "":
        return open_source_voice(voices[0], language, sample_rate)
    if speaker in SOURCE_VOICES:
        return open_source_voice(speaker, language, sample_rate)
    return EspeakSourceVoice(sample_rate, speaker_voice(language, speaker), speaker)


def make_corpus(language: str, out_dir: str | Path, count: int = DEFAULT_COUNT, seed: int = 0,
                progress: bool = True, speakers: int = 1, voices: list[str] | None = None,
                sample_rate: int = CORPUS_SAMPLE_RATE) -> Path:
    """Write an LJSpeech-layout corpus of `count` utterances plus a held-out test list; returns out_dir.

    `voices` names the corpus voices that speak it (tacotron.audio.source_voices; default eSpeak). With
    several voices, or `speakers` > 1 eSpeak variants, utterance i is spoken by speaker i mod N (the
    held-out sentences likewise), metadata.csv gets the fourth column `speaker`, and corpus.json lists the
    speakers. Audio is converted to `sample_rate`. Resumable: a finished corpus with the same language,
    seed, count and voices is left as it is; otherwise wavs whose transcript and voice are unchanged are
    kept and only the missing ones are synthesized.
    """
    check_language(language)
    voices = list(voices or ["espeak"])
    if count < 1:
        raise UserError(f"corpus size must be at least 1 utterance, got {count}")
    if not 1 <= speakers <= len(SPEAKER_VOICES):
        raise UserError(f"--speakers must be 1 to {len(SPEAKER_VOICES)} (the eSpeak voices of "
                        f"tacotron.data.corpus.making.SPEAKER_VOICES), got {speakers}")
    speaking = _speakers(language, voices, speakers)
    names = [name for name in speaking if name]
    out_dir = Path(out_dir)
    summary_path = out_dir / "corpus.json"
    identity = {"language": language, "seed": seed, "count": count, "generator": GENERATOR_VERSION,
                "voices": voices, "speakers": names, "sample_rate": sample_rate}
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        previous_identity = {"language": summary.get("language"), "seed": summary.get("seed"),
                             "count": summary.get("count"), "generator": summary.get("generator", 1),
                             # corpora made before corpus voices existed were eSpeak's, at its 22050 Hz
                             "voices": summary.get("voices", ["espeak"]),
                             "speakers": list(summary.get("speakers", {})),
                             "sample_rate": summary.get("sample_rate")}
        if previous_identity == identity and summary.get("complete", True):
            return out_dir
        if (previous_identity["voices"], previous_identity["sample_rate"]) != (voices, sample_rate):
            # Another voice spoke these wavs: none of them can be kept.
            for folder in ("wavs", "test_wavs"):
                for path in (out_dir / folder).glob("*.wav"):
                    path.unlink()
    # Until the end it says what is being made, so that an interrupted run can tell which wavs match it.
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(summary_path, json.dumps({**identity, "speakers": {name: {} for name in names},
                                                "complete": False}, indent=2) + "\n")

    frontend = get_frontend(language, "characters")  # only its normalization is used
    train = [(f"{language}_{index:05d}", text, frontend.normalize(text))
             for index, text in enumerate(generate_sentences(language, count, seed), start=1)]
    test = [(f"{language}_test_{index:03d}", text, frontend.normalize(text))
            for index, text in enumerate(generate_test_sentences(language, seed), start=1)]

    wav_dir, test_wav_dir = out_dir / "wavs", out_dir / "test_wavs"
    wav_dir.mkdir(parents=True, exist_ok=True)
    test_wav_dir.mkdir(parents=True, exist_ok=True)
    for folder in (out_dir, wav_dir, test_wav_dir):  # what a run killed mid-write left
        remove_stale_temp_files(folder)
    metadata_path, test_metadata_path = out_dir / "metadata.csv", out_dir / "test_sentences.csv"
    # Who speaks each held-out sentence of a multi-speaker corpus (`id|text|normalized|speaker`).
    test_speakers_path = out_dir / "test_speakers.csv"
    # Wavs are written atomically, so one that exists is complete; it is still valid if its transcript
    # (and speaker) is.
    previous = _read_transcripts(metadata_path) | _read_transcripts(
        test_speakers_path if test_speakers_path.is_file() else test_metadata_path)
    _remove_stale_wavs(wav_dir, re.compile(r"[a-z]+_\d{5}"), {utterance_id for utterance_id, _, _ in train})
    _remove_stale_wavs(test_wav_dir, re.compile(r"[a-z]+_test_\d{3}"), {utterance_id for utterance_id, _, _ in test})
    train_speakers = [names[index % len(names)] for index in range(len(train))] if names else None
    test_speakers = [names[index % len(names)] for index in range(len(test))] if names else None
    # The metadata goes first, so that an interrupted run can tell later which wavs match it.
    atomic_write_text(metadata_path, _metadata(train, train_speakers))
    # The held-out list keeps three columns (read_test_sentences); test_speakers.csv says who speaks each.
    atomic_write_text(test_metadata_path, _metadata(test))
    if names:
        atomic_write_text(test_speakers_path, _metadata(test, test_speakers))
    else:
        test_speakers_path.unlink(missing_ok=True)

    jobs = ([(wav_dir, item, speaker) for item, speaker in zip(train, train_speakers or [""] * len(train))]
            + [(test_wav_dir, item, speaker) for item, speaker in zip(test, test_speakers or [""] * len(test))])
    missing = {utterance_id for folder, (utterance_id, _, normalized), speaker in jobs
               if not ((folder / f"{utterance_id}.wav").is_file()
                       and previous.get(utterance_id) == (f"{normalized}|{speaker}" if speaker else normalized))}
    label = "+".join(voices) if voices != ["espeak"] else "eSpeak"
    with tqdm(total=len(jobs), initial=len(jobs) - len(missing), desc=f"{label} {language} corpus", unit="utt",
              disable=not progress) as bar:
        # A batch per speaker at a time: Festival speaks a batch in one process. The batches are the
        # same in every run (each speaker's utterances in order) and each is spoken from a fresh
        # voice (eSpeak restarts its library, Festival starts a process), so its audio depends on
        # the batch alone; a batch with a wav missing is spoken again whole, and a resumed run's wavs
        # are those of a run made in one go. (Piper's noise is unseeded: its wavs differ every run.)
        for speaker in speaking:
            mine = [(folder, utterance_id, normalized) for folder, (utterance_id, _, normalized), owner in jobs
                    if owner == speaker]
            for start in range(0, len(mine), SYNTHESIS_BATCH):
                batch = mine[start:start + SYNTHESIS_BATCH]
                if not any(utterance_id in missing for _, utterance_id, _ in batch):
                    continue
                if speaking[speaker] is None:
                    speaking[speaker] = _open_speaker(language, voices, speaker, sample_rate)
                waveforms = speaking[speaker].synthesize_many([speakable(normalized) for _, _, normalized in batch])
                for (folder, utterance_id, _), waveform in zip(batch, waveforms):
                    if utterance_id in missing:
                        save_wav(folder / f"{utterance_id}.wav",
                                 trim_silence(waveform, sample_rate, TRIM_THRESHOLD_DB, TRIM_KEEP_MS), sample_rate)
                        bar.update(1)
    seconds = {"train": 0.0, "test": 0.0}
    for folder, (utterance_id, _, _), _ in jobs:
        seconds["test" if folder == test_wav_dir else "train"] += soundfile.info(str(folder / f"{utterance_id}.wav")).duration

    share = held_out_word_share([normalized for _, _, normalized in train], [normalized for _, _, normalized in test])
    summary = {
        "language": language,
        "seed": seed,
        "count": count,
        "generator": GENERATOR_VERSION,
        "voices": voices,
        "sample_rate": sample_rate,
        # The rate each voice speaks at before conversion to sample_rate (a 16 kHz voice has nothing above 8 kHz).
        "voice_sample_rates": {name: SOURCE_VOICES[name].native_sample_rate for name in voices},
        "test_count": len(test),
        # Multi-speaker corpora only: name -> the voice speaking it (eSpeak: its variant and pitch, 0-100).
        **({"speakers": {name: _speaker_summary(name) for name in names}} if names else {}),
        "total_seconds": round(seconds["train"], 3),
        "test_total_seconds": round(seconds["test"], 3),
        "distinct_words": len({word for _, _, normalized in train for word in spoken_words(normalized)}),
        # Share of the held-out list's spoken words that no training transcript has (held_out_word_share).
        "held_out_unseen_tokens": round(share["tokens"], 4),
        "held_out_unseen_types": round(share["types"], 4),
        # Share of ordinary text (wordfreq frequencies) whose words the training part has (running_text_coverage).
        "running_text_coverage": round(running_text_coverage([normalized for _, _, normalized in train], language), 4),
        "complete": True,
    }
    atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    return out_dir


def _speaker_summary(name: str) -> dict:
    if name in SOURCE_VOICES:
        return {"voice": name, "description": SOURCE_VOICES[name].description}
    variant, pitch = {speaker_name(v, p): (v, p) for v, p in SPEAKER_VOICES}[name]
    return {"voice": "espeak", "variant": variant, "pitch": pitch}
