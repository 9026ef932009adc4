"""The one synthesis path: text -> segments -> symbols -> Tacotron 2 (free-running, checked,
retried) -> mel -> waveform -> joined and post-processed audio.

    from tacotron.inference import Synthesizer
    waveform, sample_rate = Synthesizer.from_checkpoint("runs/demo").tts("Hello there.")
    waveform, sample_rate = Synthesizer.from_checkpoint("runs/many").tts("Hello.", speaker="f2")

A model trained on sentences of a few words loses its place on long ones, so text is cut into
sentences and long sentences into clauses (`tacotron.text.segmentation`); each piece is decoded
(several at a time), scored (`quality.py`) and decoded again with the attention constraint and
another seed when it fails; the pieces are joined with pauses chosen by their punctuation.

`speed` (0.25 to 4.0) says it faster or slower at the same pitch (inference/speed.py), and every
result carries when each word of the text is spoken, in seconds of its audio (inference/word_timings.py):

    synthesis = Synthesizer.from_checkpoint("base-en").synthesize("Hello there.", speed=1.25)
    synthesis.words  # [WordTiming(word='Hello', start=0.0, end=0.31), WordTiming(word='there.', ...)]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tacotron.audio import postprocess
from tacotron.config import Config
from tacotron.errors import UserError
from tacotron.inference import speed as speed_change
from tacotron.inference.quality import (attempt_rank, frames_per_symbol, quality_failures,
                                        speaking_rate_bounds)
from tacotron.inference.vocoder import GriffinLimVocoder, Vocoder, load_vocoder
from tacotron.inference.word_timings import (NoWordTimingsError, WordTiming, decoded_word_times, grouped,
                                             in_order, moved, text_word_groups)
from tacotron.model.alignment_metrics import AlignmentScores, score_alignment
from tacotron.model.tacotron2 import Tacotron2
from tacotron.text import Frontend, segmentation
from tacotron.runs.acoustic import load_acoustic


@dataclass
class SegmentSynthesis:
    """One sentence or clause as it was finally decoded."""

    text: str  # the raw text of the segment
    normalized: str
    pause_after: str  # a segmentation.* break kind
    mel: np.ndarray  # [n_mels, frames] postnet log-mel
    alignment: np.ndarray  # [steps, N] attention weights
    frames: int
    stopped_by_gate: bool  # False: the decoder hit its length cap
    scores: AlignmentScores
    frames_per_symbol: float
    failures: list[str]  # quality checks the kept attempt still fails; empty = passed
    attempts: int  # decodings tried; 1 = the first one passed
    # Which model input symbols speak which word: (normalized word, first symbol, end symbol), and
    # which normalized words speak which written word of `text`: (written word, first, end).
    word_spans: list[tuple[str, int, int]] = field(default_factory=list, repr=False)
    word_groups: list[tuple[str, int, int]] = field(default_factory=list, repr=False)
    stressed: str = ""  # `normalized` with the stress marks and ё it was spoken with (text.stress)

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    def report(self) -> dict:
        return {"text": self.text, "normalized": self.normalized, "stressed": self.stressed,
                "frames": self.frames,
                "stopped_by_gate": self.stopped_by_gate, **self.scores.as_dict(),
                "frames_per_symbol": round(self.frames_per_symbol, 3), "attempts": self.attempts,
                "failures": self.failures}


@dataclass
class SpokenSegment:
    """One segment as `Synthesizer.stream` yields it, before the whole text is joined."""

    segment: SegmentSynthesis
    audio: np.ndarray  # float32, vocoded (at the asked speed) and trimmed; not yet joined or post-processed
    pause_after: float  # seconds of silence before the next segment (0.0 after the last), at that speed
    # When each written word of the segment is spoken, in seconds of `audio`; None where the voice
    # gave no usable alignment. A server that sends `audio` after others adds its own offset
    # (`Synthesizer.postprocess_with_words` moves them through the post-processing of `audio`).
    words: list[WordTiming] | None = None


@dataclass
class Synthesis:
    text: str
    waveform: np.ndarray  # float32 mono, joined and post-processed
    sample_rate: int
    segments: list[SegmentSynthesis]
    # Each segment's audio as vocoded and trimmed, before joining and post-processing: what a
    # per-segment score (the predicted MOS of `synth --report`) reads.
    segment_audio: list[np.ndarray] = field(default_factory=list, repr=False)
    # Each segment's words in seconds of `waveform` (after joins, pauses, trims and the speed
    # change); None when they are not known (see `words`).
    segment_words: list[list[WordTiming]] | None = field(default=None, repr=False)

    @property
    def words(self) -> list[WordTiming]:
        """When each written word of the text is spoken, in seconds of `waveform`, in order; a
        NoWordTimingsError (a UserError) when this audio has none (a segment without a usable
        alignment, or a `join` that was given no words)."""
        if self.segment_words is None:
            raise NoWordTimingsError("no word timings for this audio: the voice gave no usable attention "
                                     "alignment, or the segments were joined without their words")
        return [word for words in self.segment_words for word in words]

    @property
    def normalized(self) -> str:
        return " ".join(segment.normalized for segment in self.segments)

    @property
    def frames(self) -> int:
        return sum(segment.frames for segment in self.segments)

    @property
    def stopped_by_gate(self) -> bool:
        return all(segment.stopped_by_gate for segment in self.segments)

    @property
    def failed(self) -> bool:
        return any(segment.failed for segment in self.segments)

    @property
    def retried(self) -> bool:
        return any(segment.retried for segment in self.segments)


def max_frames_for(n_symbols: int, max_frames_per_symbol: float) -> int:
    """Hard cap on the decoder's output: ceil(n_symbols * max_frames_per_symbol) frames."""
    return max(1, math.ceil(n_symbols * max_frames_per_symbol))


def as_sentence(normalized: str) -> str:
    """End a clause the way training sentences end. The model learned to stop (fire its gate)
    after final punctuation: on the demo model, clauses ending "... in eighteen thirty" or with
    a comma never stopped, the same words ending with "." did. The pause between segments still
    follows the original punctuation."""
    stripped = normalized.rstrip(" ,;:-")
    if not stripped or stripped[-1] in ".?!":
        return stripped
    return stripped + "."


@dataclass
class _Job:
    segment: segmentation.Segment
    normalized: str
    ids: list[int]
    speaker: int | None  # row of the model's speaker table; None for a single-speaker model
    word_spans: list[tuple[str, int, int]] = field(default_factory=list)  # SegmentSynthesis.word_spans
    word_groups: list[tuple[str, int, int]] = field(default_factory=list)  # SegmentSynthesis.word_groups
    stressed: str = ""  # SegmentSynthesis.stressed


class Synthesizer:
    def __init__(self, model: Tacotron2, config: Config, frontend: Frontend,
                 device: str | torch.device = "cpu", training_rate: dict[str, float] | None = None,
                 vocoder: Vocoder | None = None, speakers: list[str] | None = None):
        """`vocoder`: None is Griffin-Lim; `from_checkpoint` picks the default (inference/vocoder.py).
        `speakers`: the names of the model's speaker table, in order (model.speaker_dim > 0)."""
        self.model = model.to(device).eval()
        self.vocoder = vocoder or GriffinLimVocoder(config.audio)
        self.config = config
        self.frontend = frontend
        self.device = torch.device(device)
        self.rate_bounds = speaking_rate_bounds(training_rate or {},
                                                config.inference.speaking_rate_tolerance)
        self.checkpoint_step: int | None = None  # the training step, when loaded from a checkpoint
        self.speakers = list(speakers or [])
        # Who speaks when a call names no speaker; None: the first of `speakers` (documented default).
        self.speaker: str | None = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu",
                        overrides: list[str] | None = None,
                        vocoder: str | Path | Vocoder | None = "default") -> "Synthesizer":
        """Load a checkpoint file, or a run folder (its best, else newest, checkpoint).
        `overrides` (`inference.*=...`, `postprocess.*=...`) change how it speaks; `vocoder` is a
        Vocoder or a name for `load_vocoder` (universal, ljspeech, griffin-lim, a path, default)."""
        loaded = load_acoustic(path, device, overrides,
                               if_vocoder="pass it as the vocoder, with the acoustic model's "
                                          "checkpoint as the checkpoint")
        config = loaded.config
        if not isinstance(vocoder, Vocoder):
            vocoder = load_vocoder(vocoder, config.audio, device)
        synthesizer = cls(loaded.model, config, loaded.frontend, device,
                          loaded.voice.speaking_rate, vocoder, loaded.speakers)
        synthesizer.checkpoint_step = loaded.voice.step
        return synthesizer

    @property
    def sample_rate(self) -> int:
        return self.config.audio.sample_rate

    def speaker_id(self, name: str | None = None) -> int | None:
        """The row of speaker `name` in the model's speaker table, None for a single-speaker model.
        A multi-speaker model asked for no one speaks as `self.speaker`, else its first speaker."""
        if not self.speakers:
            if name is not None:
                raise UserError(f"this voice has a single speaker: it cannot speak as {name!r}")
            return None
        name = name if name is not None else (self.speaker or self.speakers[0])
        if name not in self.speakers:
            raise UserError(f"no speaker {name!r} in this voice; its speakers: {', '.join(self.speakers)}")
        return self.speakers.index(name)

    def tts(self, text: str, speaker: str | None = None, speed: float = 1.0) -> tuple[np.ndarray, int]:
        synthesis = self.synthesize(text, speaker=speaker, speed=speed)
        return synthesis.waveform, synthesis.sample_rate

    def synthesize(self, text: str, progress: bool = False, speaker: str | None = None,
                   speed: float = 1.0) -> Synthesis:
        """Speak any amount of text as one waveform (`progress`: a bar over the segments), as
        `speaker` (a multi-speaker model's name for it; see `speaker_id`), at `speed` (0.25 to 4.0;
        pauses between segments shrink or grow with it; a UserError outside that range)."""
        speed = speed_change.check_speed(speed)
        jobs = self._jobs(text, speaker)
        segments = self._decode_checked(jobs, progress and len(jobs) > 1)
        spoken = [self._spoken(segment, speed, last=index == len(segments) - 1)
                  for index, segment in enumerate(segments)]
        return self.join_spoken(text, spoken)

    def stream(self, text: str, speaker: str | None = None, speed: float = 1.0) -> Iterator[SpokenSegment]:
        """The segments of `text` one at a time and in order, each decoded (checked, retried) and
        vocoded alone, so a caller can play or send the first sentence while the rest is decoded,
        and stop early by closing the generator. `join_spoken` makes of the collected segments the
        waveform `synthesize` would (which batches segments: faster in total, first audio later).
        A bad `speed`, speaker or text is a UserError here, before the first segment is asked for."""
        speed = speed_change.check_speed(speed)
        return self._stream(self._jobs(text, speaker), speed)

    def _stream(self, jobs: list[_Job], speed: float) -> Iterator[SpokenSegment]:
        for index, job in enumerate(jobs):
            (segment,) = self._decode_checked([job], progress=False)
            yield self._spoken(segment, speed, last=index == len(jobs) - 1)

    def join_spoken(self, text: str, spoken: list[SpokenSegment]) -> Synthesis:
        """`join` of streamed segments, their words included."""
        return self.join(text, [piece.segment for piece in spoken], [piece.audio for piece in spoken],
                         [piece.pause_after for piece in spoken[:-1]], [piece.words for piece in spoken])

    def join(self, text: str, segments: list[SegmentSynthesis], pieces: list[np.ndarray],
             pauses: list[float], words: list[list[WordTiming] | None] | None = None) -> Synthesis:
        """Pieces joined with `pauses` (seconds, one per join), then post-processed. `words`: each
        piece's word timings (SpokenSegment.words), moved to where the piece lands in the result;
        None (or None for any piece): the result has no word timings."""
        waveform, offsets = postprocess.crossfade_join_with_offsets(
            pieces, self.sample_rate, pauses, crossfade_ms=self.config.inference.crossfade_ms)
        waveform, cut = self._postprocess_with_offset(waveform)
        segment_words = None
        if words is not None and all(piece_words is not None for piece_words in words):
            length = len(waveform) / self.sample_rate
            placed = [moved(piece_words, shift=(offset - cut) / self.sample_rate, length=length)
                      for piece_words, offset in zip(words, offsets)]
            ordered = iter(in_order([word for piece_words in placed for word in piece_words]))
            segment_words = [[next(ordered) for _ in piece_words] for piece_words in placed]
        return Synthesis(text, waveform, self.sample_rate, segments, list(pieces), segment_words)

    def postprocess(self, waveform: np.ndarray) -> np.ndarray:
        """The `postprocess.*` clean-up of a joined waveform (or of one streamed segment)."""
        return self._postprocess_with_offset(waveform)[0]

    def postprocess_with_words(self, waveform: np.ndarray, words: list[WordTiming] | None
                               ) -> tuple[np.ndarray, list[WordTiming] | None]:
        """`postprocess`, and `words` (seconds of `waveform`) moved to the seconds of its result:
        for a streamed segment, post-processed alone (SpokenSegment.audio and .words)."""
        processed, cut = self._postprocess_with_offset(waveform)
        if words is None:
            return processed, None
        return processed, moved(words, shift=-cut / self.sample_rate,
                                length=len(processed) / self.sample_rate)

    def _postprocess_with_offset(self, waveform: np.ndarray) -> tuple[np.ndarray, int]:
        """`postprocess` and the number of samples its trim cut from the start."""
        settings = self.config.postprocess
        waveform, cut = postprocess.postprocess_with_offset(
            waveform, self.sample_rate, noise_gate=settings.noise_gate, trim=settings.trim,
            loudness_lufs=settings.loudness_lufs, limit_dbtp=settings.true_peak_dbtp,
            fades=settings.fades)
        return waveform.astype(np.float32), cut

    def vocode(self, mel: np.ndarray) -> np.ndarray:
        return self.vocoder(mel)

    # ------------------------------------------------------------------ internals
    def _jobs(self, text: str, speaker: str | None = None) -> list[_Job]:
        speaker_id = self.speaker_id(speaker)
        jobs = []
        for segment in segmentation.split_text(text, self.frontend.language,
                                               self.config.inference.max_segment_chars):
            normalized = as_sentence(self.frontend.normalize(segment.text))
            if not any(character.isalnum() for character in normalized):
                # Punctuation alone ("...", "-") has nothing to say; keep its pause.
                if jobs and segment.pause_after != segmentation.NONE:
                    jobs[-1].segment = segmentation.Segment(jobs[-1].segment.text, segment.pause_after)
                continue
            stressed = self.frontend.stressed(normalized)
            model_input = self.frontend.to_input(stressed)
            ids = self.frontend.to_ids(model_input)
            spans = self.frontend.word_spans(stressed, model_input)
            groups = text_word_groups(segment.text, [word for word, _, _ in spans], self.frontend.normalize)
            jobs.append(_Job(segment, normalized, ids, speaker_id, spans, groups, stressed))
        if not jobs:
            raise UserError(f"nothing to say in {text!r}")
        return jobs

    def _decode_checked(self, jobs: list[_Job], progress: bool) -> list[SegmentSynthesis]:
        """First pass in batches; each segment that fails quality control is decoded again alone,
        with the attention constraint and a new seed, up to `max_retries` times; the best kept."""
        inference = self.config.inference
        first_window = inference.attention_constraint == "always"
        results: list[SegmentSynthesis | None] = [None] * len(jobs)
        # Similar lengths together: a batch runs until its longest member stops.
        order = sorted(range(len(jobs)), key=lambda index: len(jobs[index].ids))
        bar = tqdm(total=len(jobs), unit="segment", desc="synthesizing", disable=not progress)
        for start in range(0, len(order), inference.batch_size):
            batch = order[start:start + inference.batch_size]
            decoded = self._decode([jobs[index] for index in batch], inference.seed, first_window)
            for index, segment in zip(batch, decoded):
                results[index] = segment
            bar.update(len(batch))
        bar.close()
        for index, job in enumerate(jobs):
            best = results[index]
            for retry in range(1, inference.max_retries + 1):
                if not best.failed:
                    break
                window = inference.attention_constraint != "off"
                (candidate,) = self._decode([job], inference.seed + retry, window)
                candidate.attempts = best.attempts + 1
                if attempt_rank(candidate.failures, candidate.scores) < attempt_rank(best.failures,
                                                                                     best.scores):
                    best = candidate
                else:
                    best.attempts = candidate.attempts
            results[index] = best
        return results

    @torch.no_grad()
    def _decode(self, jobs: list[_Job], seed: int, attention_window: bool) -> list[SegmentSynthesis]:
        inference = self.config.inference
        lengths = [len(job.ids) for job in jobs]
        text = torch.full((len(jobs), max(lengths)), self.frontend.pad_id, dtype=torch.long)
        for row, job in enumerate(jobs):
            text[row, : len(job.ids)] = torch.tensor(job.ids)
        max_frames = torch.tensor([max_frames_for(n, inference.max_frames_per_symbol) for n in lengths])
        window = ((inference.attention_window_backward, inference.attention_window_forward)
                  if attention_window else None)
        arguments = (text.to(self.device), torch.tensor(lengths, device=self.device),
                     max_frames.to(self.device), inference.gate_threshold,
                     inference.gate_threshold_start, window)
        # Only a multi-speaker model gets speaker ids (torch and the ONNX runtime alike).
        speakers = ({} if jobs[0].speaker is None
                    else {"speakers": torch.tensor([job.speaker for job in jobs], device=self.device)})
        if inference.prenet_dropout == "deterministic":
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                output = self.model.infer(*arguments, **speakers)
        else:
            output = self.model.infer(*arguments, **speakers)
        segments = []
        for row, job in enumerate(jobs):
            frames = int(output.mel_lengths[row])
            steps = frames // self.model.reduction_factor
            alignment = output.alignments[row, :steps, : lengths[row]].float().cpu()
            scores = score_alignment(alignment)
            stopped = bool(output.stopped_by_gate[row])
            rate = frames_per_symbol(frames, lengths[row])
            segments.append(SegmentSynthesis(
                text=job.segment.text, normalized=job.normalized, stressed=job.stressed,
                pause_after=job.segment.pause_after,
                mel=output.mel_postnet[row, :, :frames].float().cpu().numpy(),
                alignment=alignment.numpy(), frames=frames, stopped_by_gate=stopped, scores=scores,
                frames_per_symbol=rate,
                failures=quality_failures(scores, stopped, rate, self.rate_bounds, inference),
                attempts=1, word_spans=job.word_spans, word_groups=job.word_groups))
        return segments

    def _spoken(self, segment: SegmentSynthesis, speed: float, last: bool) -> SpokenSegment:
        """A decoded segment vocoded at `speed` and trimmed, with its words and the pause after it."""
        audio, time_scale = speed_change.speak_at_speed(segment.mel, self.vocode, speed,
                                                        self.config.inference.speed_method)
        words = self._decoded_words(segment)
        if words is not None:
            words = moved(words, scale=time_scale, length=len(audio) / self.sample_rate)
        if self.config.postprocess.trim:
            # The model's own leading and trailing silence would make pauses uneven.
            cut, _ = postprocess.silence_bounds(audio, self.sample_rate)
            audio = postprocess.trim_silence(audio, self.sample_rate)
            if words is not None:
                words = moved(words, shift=-cut / self.sample_rate, length=len(audio) / self.sample_rate)
        pause = 0.0 if last else speed_change.scaled_pause(self._pause_seconds(segment.pause_after), speed)
        return SpokenSegment(segment, audio, pause, words)

    def _decoded_words(self, segment: SegmentSynthesis) -> list[WordTiming] | None:
        """The segment's written words in seconds of its decoded mel; None without a usable alignment."""
        try:
            times = decoded_word_times(segment.alignment, segment.word_spans, self.model.reduction_factor,
                                       self.config.audio.hop_length, self.sample_rate)
        except NoWordTimingsError:
            return None
        return grouped(segment.word_groups, times)

    def _pause_seconds(self, pause_after: str) -> float:
        inference = self.config.inference
        return {
            segmentation.PARAGRAPH: inference.pause_paragraph,
            segmentation.SENTENCE: inference.pause_sentence,
            segmentation.QUESTION: inference.pause_question,
            segmentation.STRONG_CLAUSE: inference.pause_strong_clause,
            segmentation.CLAUSE: inference.pause_clause,
            segmentation.NONE: 0.0,
        }[pause_after]
