"""Intelligibility of a voice: held-out sentences are synthesized and transcribed by Whisper, and so are
the source recordings of the same sentences where they exist, so every figure of the voice comes
with the recognizer's ceiling on the voice it was trained on. Beside the recognizer, the mel
cepstral distortion to the source recording (audio/cepstral_distance.py) and the duration ratio.

    evaluation = evaluate_sentences(synthesizer, Recognizer(language="en"), held_out_sentences("data/espeak-en"))
    evaluation.summary  # {"voice_wer": ..., "voice_cer": ..., "source_wer": ..., "mcd_db": ..., ...}
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tacotron.audio.cepstral_distance import mel_cepstral_distortion
from tacotron.audio.io import load_audio
from tacotron.audio.recognizer import Recognizer, Transcript
from tacotron.data.corpus import read_test_sentences
from tacotron.errors import UserError
from tacotron.evaluation.naturalness import naturalness_available, predicted_mos
from tacotron.inference import Synthesis, Synthesizer
from tacotron.text.error_rate import (align_words, character_error_rate, normalize_for_scoring,
                                      word_error_rate)


@dataclass
class HeldOut:
    id: str
    text: str  # as written: what the synthesizer reads
    source: Path | None  # a recording of the same text, or None


@dataclass
class Heard:
    """What the recognizer made of one waveform, scored against the sentence."""

    text: str  # as transcribed
    normalized: str  # normalize_for_scoring(text)
    wer: float
    cer: float
    skipped: list[str]  # reference words missing from the transcript
    repeated: list[str]  # transcript words said again where the reference has them once
    avg_logprob: float
    no_speech_prob: float
    seconds: float  # audio length
    mos: float | None = None  # its predicted MOS (evaluation/naturalness.py), None without DistillMOS


@dataclass
class SentenceResult:
    id: str
    text: str
    reference: str  # normalize_for_scoring(text)
    voice: Heard
    source: Heard | None
    synthesis_seconds: float  # wall-clock time of Synthesizer.synthesize
    mcd_db: float | None = None  # to the source recording (audio/cepstral_distance.py)
    duration_ratio: float | None = None  # voice seconds / source seconds
    # Per synthesized segment: [steps, symbols] attention weights (not written to evaluation.json).
    alignments: list[np.ndarray] = field(default_factory=list, repr=False)
    waveform: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("alignments"), data.pop("waveform")
        return data


@dataclass
class Evaluation:
    language: str
    sentences: list[SentenceResult]
    summary: dict[str, float | int | None]

    def to_dict(self) -> dict:
        return {"language": self.language, "summary": self.summary,
                "sentences": [sentence.to_dict() for sentence in self.sentences]}


def held_out_sentences(data_dir: str | Path | None = None, sentences_file: str | Path | None = None,
                       limit: int | None = None) -> list[HeldOut]:
    """The sentences to evaluate: a file of one sentence per line (no source recordings), else the
    corpus's held-out list (test_sentences.csv) with its recordings test_wavs/ID.wav; the first `limit`."""
    if sentences_file is not None:
        path = Path(sentences_file)
        if not path.is_file():
            raise UserError(f"sentences file not found: {path}")
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        sentences = [HeldOut(f"sentence_{number:03d}", line, None)
                     for number, line in enumerate((line for line in lines if line), start=1)]
    elif data_dir is not None:
        if not (Path(data_dir) / "test_sentences.csv").is_file():
            raise UserError(f"{data_dir} has no held-out list (test_sentences.csv: id|text|normalized, "
                            "recordings in test_wavs/ID.wav, as `tacotron corpus make` writes); "
                            "give the sentences as a file (--sentences) instead")
        test_wavs = Path(data_dir) / "test_wavs"
        sentences = [HeldOut(sentence.id, sentence.text, test_wavs / f"{sentence.id}.wav"
                             if (test_wavs / f"{sentence.id}.wav").is_file() else None)
                     for sentence in read_test_sentences(data_dir)]
    else:
        raise UserError("nothing to evaluate: give the corpus (--data) or a sentences file (--sentences)")
    if not sentences:
        raise UserError(f"no sentences in {sentences_file or data_dir}")
    return sentences[:limit] if limit else sentences


def hear(recognizer: Recognizer, waveform: np.ndarray, sample_rate: int, reference: str,
         language: str) -> Heard:
    """Transcribe a waveform and score it against `reference` (already normalize_for_scoring); with
    DistillMOS installed, also its predicted MOS (naturalness is reported wherever intelligibility is)."""
    transcript: Transcript = recognizer.transcribe(waveform, sample_rate)
    normalized = normalize_for_scoring(transcript.text, language)
    alignment = align_words(reference, normalized)
    return Heard(text=transcript.text, normalized=normalized,
                 wer=round(word_error_rate(reference, normalized), 4),
                 cer=round(character_error_rate(reference, normalized), 4),
                 skipped=alignment.skipped, repeated=alignment.repeated,
                 avg_logprob=round(transcript.avg_logprob, 4), no_speech_prob=round(transcript.no_speech_prob, 4),
                 seconds=round(len(waveform) / sample_rate, 3),
                 mos=round(predicted_mos(waveform, sample_rate), 3) if naturalness_available() else None)


def real_time_factor(synthesis_seconds: float, audio_seconds: float) -> float:
    """RTF = wall-clock seconds of synthesis / seconds of audio produced (< 1: faster than real time)."""
    return synthesis_seconds / audio_seconds if audio_seconds > 0 else math.nan


def summarize(sentences: list[SentenceResult]) -> dict[str, float | int | None]:
    """The evaluation's figures, each pooled over the sentences (text/error_rate.py for WER and CER):
    voice_wer, voice_cer over all sentences; source_wer, source_cer and voice_wer_sourced (the voice
    on the same sentences) over those with a recording; mcd_db and duration_ratio: arithmetic means
    over those with a recording; voice_mos and source_mos: arithmetic means of the predicted MOS
    (evaluation/naturalness.py) of the voice's and the recordings' audio, None without DistillMOS;
    rtf = real_time_factor of all sentences together."""
    references = [sentence.reference for sentence in sentences]
    sourced = [sentence for sentence in sentences if sentence.source is not None]

    def rounded(value: float | None) -> float | None:
        return None if value is None or not math.isfinite(value) else round(value, 4)

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    return {
        "sentences": len(sentences),
        "voice_wer": rounded(word_error_rate(references, [s.voice.normalized for s in sentences])),
        "voice_cer": rounded(character_error_rate(references, [s.voice.normalized for s in sentences])),
        "sourced_sentences": len(sourced),
        "source_wer": rounded(word_error_rate([s.reference for s in sourced],
                                              [s.source.normalized for s in sourced])) if sourced else None,
        "source_cer": rounded(character_error_rate([s.reference for s in sourced],
                                                   [s.source.normalized for s in sourced])) if sourced else None,
        "voice_wer_sourced": rounded(word_error_rate([s.reference for s in sourced],
                                                     [s.voice.normalized for s in sourced])) if sourced else None,
        "mcd_db": rounded(mean([s.mcd_db for s in sourced if s.mcd_db is not None])),
        "duration_ratio": rounded(mean([s.duration_ratio for s in sourced if s.duration_ratio is not None])),
        "voice_mos": rounded(mean([s.voice.mos for s in sentences if s.voice.mos is not None])),
        "source_mos": rounded(mean([s.source.mos for s in sourced if s.source.mos is not None])),
        "skipped_words": sum(len(s.voice.skipped) for s in sentences),
        "repeated_words": sum(len(s.voice.repeated) for s in sentences),
        "rtf": rounded(real_time_factor(sum(s.synthesis_seconds for s in sentences),
                                        sum(s.voice.seconds for s in sentences))),
    }


def evaluate_sentences(synthesizer: Synthesizer, recognizer: Recognizer, sentences: list[HeldOut],
                       progress: bool = True, keep_audio: bool = False,
                       heard_sources: dict[str, Heard] | None = None,
                       synthesized: dict[str, tuple[Synthesis, float]] | None = None) -> Evaluation:
    """Synthesize, transcribe and score every sentence; `keep_audio` keeps the waveforms and
    alignments on the results (for the HTML page). `heard_sources`: transcripts of the source
    recordings by sentence id, reused and filled in (a recording does not change between evaluations).
    `synthesized`: (synthesis, its seconds) by sentence id, spoken by this synthesizer already."""
    heard_sources = {} if heard_sources is None else heard_sources
    language = synthesizer.frontend.language
    results = []
    for sentence in tqdm(sentences, desc="evaluate", unit="sentence", disable=not progress):
        reference = normalize_for_scoring(sentence.text, language)
        if synthesized and sentence.id in synthesized:
            synthesis, synthesis_seconds = synthesized[sentence.id]
        else:
            started = time.monotonic()
            synthesis = synthesizer.synthesize(sentence.text)
            synthesis_seconds = time.monotonic() - started
        voice = hear(recognizer, synthesis.waveform, synthesis.sample_rate, reference, language)
        source = mcd_db = duration_ratio = None
        if sentence.source is not None:
            recording, _ = load_audio(sentence.source, synthesis.sample_rate)
            if sentence.id not in heard_sources:
                heard_sources[sentence.id] = hear(recognizer, recording, synthesis.sample_rate, reference, language)
            source = heard_sources[sentence.id]
            distance = mel_cepstral_distortion(recording, synthesis.waveform, synthesis.sample_rate)
            mcd_db, duration_ratio = round(distance.mcd_db, 4), round(distance.duration_ratio, 4)
        results.append(SentenceResult(
            id=sentence.id, text=sentence.text, reference=reference, voice=voice, source=source,
            synthesis_seconds=round(synthesis_seconds, 3), mcd_db=mcd_db, duration_ratio=duration_ratio,
            alignments=[segment.alignment for segment in synthesis.segments] if keep_audio else [],
            waveform=synthesis.waveform if keep_audio else None))
    return Evaluation(language, results, summarize(results))


# The figures `tacotron demo` puts in report.json (the full set is in `tacotron evaluate`'s evaluation.json).
REPORT_FIGURES = ("sentences", "voice_wer", "voice_cer", "source_wer", "source_cer", "mcd_db", "duration_ratio",
                  "voice_mos", "source_mos")


def hear_recordings(data_dir: str | Path, settings, language: str, sample_rate: int,
                    threads: int = 1) -> dict[str, Heard]:
    """The held-out recordings of `data_dir` that intelligibility_report reads, heard (Whisper and
    predicted MOS, as `hear`) at `sample_rate` with `threads` threads, by sentence id. The demo runs
    it in a second process while training keeps the other core (one core is what a cpu-tiny step
    uses), so the report waits only for the voice's own sentences."""
    torch.set_num_threads(threads)
    recognizer = Recognizer(settings.asr_model or None, language=language, threads=threads)
    heard = {}
    for sentence in held_out_sentences(data_dir, limit=settings.demo_sentences or None):
        if sentence.source is not None:
            recording, _ = load_audio(sentence.source, sample_rate)
            heard[sentence.id] = hear(recognizer, recording, sample_rate,
                                      normalize_for_scoring(sentence.text, language), language)
    return heard


def intelligibility_report(synthesizer: Synthesizer, data_dir: str | Path, settings, progress: bool = True,
                           heard_sources: dict[str, Heard] | None = None,
                           synthesized: dict[str, tuple[Synthesis, float]] | None = None) -> dict:
    """Evaluate `synthesizer` on the corpus's held-out sentences (the first settings.demo_sentences,
    0 = all) with the recognizer of `settings` (an EvalConfig); a missing recognizer is reported in
    the result ("error") instead of raised, so a finished training run still writes its report.
    `heard_sources` and `synthesized`: as evaluate_sentences takes them."""
    try:
        recognizer = Recognizer(settings.asr_model or None, language=synthesizer.frontend.language,
                                threads=settings.asr_threads)
        sentences = held_out_sentences(data_dir, limit=settings.demo_sentences or None)
    except UserError as error:
        return {"error": str(error)}
    evaluation = evaluate_sentences(synthesizer, recognizer, sentences, progress=progress,
                                    heard_sources=heard_sources, synthesized=synthesized)
    return {"asr_model": recognizer.model_name,
            **{key: evaluation.summary[key] for key in REPORT_FIGURES}}
