"""The speech service behind the HTTP routes: the loaded voices, the synthesis queue, the metrics,
the recent requests' reports and the limits of serve.*. One per application, on `app.state.service`.

It speaks in the server's terms but knows nothing of routes: a request it refuses before any work
is an HTTPException naming the field; what goes wrong later reaches the caller as the queue's and
the text's own exceptions (QueueFull, JobTimeout, ClientGone, UserError), which the application
turns into answers in one place (app.py).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from tacotron.config import ServeConfig
from tacotron.errors import UserError
from tacotron.evaluation.naturalness import INSTALL, TextNaturalness, naturalness_available, text_naturalness
from tacotron.inference.synthesizer import SegmentSynthesis
from tacotron.inference.word_timings import WordTiming, moved
from tacotron.serve.audio import encode, pcm16, streaming_wav_header
from tacotron.serve.jobs import Job, SynthesisQueue
from tacotron.serve.metrics import ServerMetrics, real_time_factor
from tacotron.serve.voices import Voice

# The voice names OpenAI's speech API knows (what its clients, and Open WebUI, send unless told
# otherwise). Each speaks with the server's default voice unless serve.openai_voices maps it.
OPENAI_VOICE_NAMES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage",
                      "shimmer", "verse")


@dataclass
class Scored:
    """A request's predicted MOS, scored after its audio (the last item of a job that asked)."""

    naturalness: TextNaturalness
    seconds: float  # wall-clock seconds the scoring took


def score_naturalness(segment_audio: list[np.ndarray], sample_rate: int) -> Scored:
    """text_naturalness of the request's segments, and the wall-clock seconds it took (the
    report's naturalness_seconds: what asking for it costs the request's worker)."""
    started = time.monotonic()
    return Scored(text_naturalness(segment_audio, sample_rate), time.monotonic() - started)


@dataclass
class Finished:
    """The last item of a whole-audio job."""

    segments: list[SegmentSynthesis]
    waveform: np.ndarray
    body: bytes
    synthesis_seconds: float
    naturalness: Scored | None  # asked for by the request
    words: list[WordTiming] | None  # in seconds of `waveform`; None: the voice gave no alignment


@dataclass
class StreamedSegment:
    segment: SegmentSynthesis
    body: bytes  # its 16-bit samples, the pause after it included
    samples: int
    synthesis_seconds: float  # since the job started
    # Its words in seconds of the whole streamed audio (not of this segment); None: no alignment.
    words: list[WordTiming] | None = None
    segment_rate: int = 0  # the sample rate of `body`


@dataclass
class Spoken:
    """A whole-audio answer: the encoded audio and the request's report."""

    body: bytes
    report: dict
    words: list[WordTiming] | None  # in seconds of the answered audio; None: no alignment


class Reports:
    """The last `size` requests' reports and alignments, by request id (event-loop thread only)."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[str, tuple[dict, list[SegmentSynthesis]]] = OrderedDict()

    def add(self, report: dict, segments: list[SegmentSynthesis]) -> None:
        self._entries[report["id"]] = (report, segments)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def get(self, request_id: str) -> tuple[dict, list[SegmentSynthesis]]:
        if request_id not in self._entries:
            raise HTTPException(404, f"no report for request {request_id!r} (the server keeps the "
                                     f"last {self.size})")
        return self._entries[request_id]


def quality_summary(segments: list[SegmentSynthesis]) -> dict:
    return {"segments": len(segments), "retried": sum(s.retried for s in segments),
            "failed": sum(s.failed for s in segments), "attempts": sum(s.attempts for s in segments)}


def event_line(event: dict) -> bytes:
    """One event of a stream with timings: a JSON object on a line of its own (NDJSON)."""
    return (json.dumps(event, ensure_ascii=False) + "\n").encode()


def segment_events(index: int, start_sample: int, item: StreamedSegment) -> bytes:
    """A streamed segment as two events: "audio" (its 16-bit little-endian mono samples, the pause
    after it included, base64; `start`: where they begin in the stream, seconds) and "words" (each
    written word's start and end in seconds of the whole streamed audio)."""
    rate = item.segment_rate
    audio = {"type": "audio", "segment": index, "start": round(start_sample / rate, 3),
             "samples": item.samples, "audio": base64.b64encode(item.body).decode("ascii")}
    words = {"type": "words", "segment": index, "words": [word.as_dict() for word in item.words]}
    return event_line(audio) + event_line(words)


def no_timings_message(voice: Voice) -> str:
    """What a request for `timings` is told when the voice gave no usable alignment."""
    return (f"timings: voice {voice.name!r} gave no usable attention alignment for this text, so "
            "there are no word timings; ask again without timings")


def request_report(request_id: str, voice: Voice, synthesizer, text: str,
                   segments: list[SegmentSynthesis], samples: int, synthesis_seconds: float,
                   queue_seconds: float, scored: Scored | None = None, speed: float = 1.0,
                   words: list[WordTiming] | None = None) -> dict:
    """A request's report. `scored`: its predicted MOS, when the request asked (`naturalness`):
    "mos" of the whole text and of each segment (evaluation.naturalness.text_naturalness), and
    "naturalness_seconds", the time the scoring took after the audio; all null otherwise.
    "speed": the speed asked for; "stressed": each segment's stressed text (Russian: "+" before
    the stressed vowel, ё restored; else the normalized text) joined by spaces; "words": each
    written word's start and end in seconds of the answered audio, null when the voice gave no
    usable alignment."""
    audio_seconds = samples / synthesizer.sample_rate
    segment_reports = [s.report() for s in segments]
    for number, segment in enumerate(segment_reports):
        segment["mos"] = scored.naturalness.segment_mos[number] if scored else None
    return {"id": request_id, "voice": voice.name, "vocoder": synthesizer.vocoder.name,
            "seed": synthesizer.config.inference.seed, "text": text,
            "speaker": synthesizer.speakers[synthesizer.speaker_id()] if synthesizer.speakers else None,
            "sample_rate": synthesizer.sample_rate, "audio_seconds": round(audio_seconds, 3),
            "synthesis_seconds": round(synthesis_seconds, 3),
            "queue_seconds": round(queue_seconds, 3),
            "real_time_factor": round(real_time_factor(synthesis_seconds, audio_seconds), 4),
            "mos": scored.naturalness.mos if scored else None,
            "naturalness_seconds": round(scored.seconds, 3) if scored else None,
            "speed": speed, "stressed": " ".join(s.stressed or s.normalized for s in segments),
            "words": None if words is None else [word.as_dict() for word in words],
            "summary": quality_summary(segments), "segments": segment_reports}


def warm_up(voices: dict[str, Voice]) -> None:
    """Each voice says a word before the server takes requests: the first synthesis in a process
    pays for library start-up (LAPACK, oneDNN: seconds on a CPU), which no client should wait for."""
    for voice in voices.values():
        voice.synthesizer.synthesize("Ready." if voice.language == "en" else "Готово.")


def openai_voice_map(configured: dict[str, str], voices: dict[str, Voice], default_voice: str
                     ) -> dict[str, str]:
    """OpenAI's voice names -> "VOICE" or "VOICE:SPEAKER" of this server: each built-in name to the
    default voice, then serve.openai_voices over them (an empty value: the default voice). A value
    naming a voice or speaker the server does not have is a UserError at start-up."""
    mapping = {name: default_voice for name in OPENAI_VOICE_NAMES}
    for name, target in configured.items():
        voice, _, speaker = (target or default_voice).partition(":")
        if voice not in voices:
            raise UserError(f"serve.openai_voices: {name!r} -> {target!r}, but this server has no voice "
                            f"{voice!r}; its voices: {', '.join(voices)}")
        if speaker:
            try:
                voices[voice].synthesizer.speaker_id(speaker)
            except UserError as error:
                raise UserError(f"serve.openai_voices: {name!r} -> {target!r}: {error}") from None
        mapping[name] = target or default_voice
    return mapping


def check_speaker(voice: Voice, speaker: str | None) -> None:
    """404 naming the speakers when `voice` has no speaker `speaker` (None: its default)."""
    try:
        voice.synthesizer.speaker_id(speaker)
    except UserError as error:
        raise HTTPException(404, f"speaker: {error}") from None


class SpeechService:
    """`api_key` empty: no key is asked for."""

    def __init__(self, voices: dict[str, Voice], settings: ServeConfig, api_key: str = ""):
        self.voices = voices
        self.default_voice = next(iter(voices))
        self.settings = settings
        self.api_key = api_key
        self.metrics = ServerMetrics()
        self.reports = Reports(settings.kept_reports)
        self.queue: SynthesisQueue | None = None  # from start() to stop()
        self.openai_voices = openai_voice_map(settings.openai_voices, voices, self.default_voice)

    async def start(self) -> None:
        await run_in_threadpool(warm_up, self.voices)
        self.queue = SynthesisQueue(self.settings.workers, self.settings.queue_size,
                                    on_queue_length=self.metrics.queue_length.set,
                                    on_busy=self.metrics.busy_workers.set,
                                    on_dropped=self.metrics.dropped.inc)

    async def stop(self) -> None:
        await run_in_threadpool(self.queue.close)

    def accepts(self, authorization: str) -> bool:
        """Whether an Authorization header value carries this server's key (any value, without one)."""
        if not self.api_key:
            return True
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                  self.api_key.encode())

    def openai_voice(self, name: str) -> tuple[str, str | None]:
        """/v1/audio/speech's `voice`: (voice name, speaker or None). A voice of this server by its
        name or as VOICE:SPEAKER, else one of OpenAI's names through the map (serve.openai_voices);
        anything else is answered 404 listing both."""
        voice, _, speaker = name.partition(":")
        if voice in self.voices:
            return voice, speaker or None
        if name in self.openai_voices:
            voice, _, speaker = self.openai_voices[name].partition(":")
            return voice, speaker or None
        raise HTTPException(404, f"voice: no voice named {name!r}; voices: {', '.join(self.voices)}, "
                                 f"or OpenAI's names: {', '.join(self.openai_voices)}")

    def voice_for_language(self, language: str) -> Voice | None:
        """The first voice (in the server's order) speaking `language`: "en", or a tag such as
        "en-US" / "en_US" by its first part."""
        wanted = language.replace("_", "-").split("-")[0].lower()
        return next((voice for voice in self.voices.values() if voice.language == wanted), None)

    def pick_voice(self, name: str | None, field: str) -> Voice:
        name = self.default_voice if name is None else name
        if name not in self.voices:
            raise HTTPException(404, f"{field}: no voice named {name!r}; voices: {', '.join(self.voices)}")
        return self.voices[name]

    def prepare(self, text: str, voice_name: str | None, vocoder: str | None, seed: int | None,
                text_field: str = "text", voice_field: str = "voice", speaker: str | None = None,
                naturalness: bool = False):
        """Check what a request asks for, before it takes a place in the queue: (voice, synthesizer)."""
        if naturalness and not naturalness_available():
            raise HTTPException(501, f"naturalness: this server cannot score the predicted MOS "
                                     f"(DistillMOS is not installed: {INSTALL})")
        if not text.strip():
            raise HTTPException(400, f"{text_field}: empty; there is nothing to say")
        if len(text) > self.settings.max_chars:
            raise HTTPException(413, f"{text_field}: {len(text)} characters; this server speaks at "
                                     f"most {self.settings.max_chars} per request (serve.max_chars)")
        voice = self.pick_voice(voice_name, voice_field)
        if vocoder is not None and vocoder not in voice.vocoders:
            raise HTTPException(404, f"vocoder: voice {voice.name!r} has no vocoder {vocoder!r}; "
                                     f"it has: {', '.join(voice.vocoders)}")
        check_speaker(voice, speaker)
        return voice, voice.synthesizer_for(vocoder, seed, speaker)

    def pick_speaking_voice(self, voice_name: str | None, speaker: str | None) -> Voice:
        """The voice (and its speaker) a request names, checked as `prepare` checks them, before
        there is any text (a Wyoming stream's synthesize-start)."""
        voice = self.pick_voice(voice_name, "voice")
        check_speaker(voice, speaker)
        return voice

    def _submit(self, work) -> Job:
        """Queue the work; QueueFull when every worker is busy and the queue is full."""
        job = Job(work, asyncio.get_running_loop())
        self.queue.submit(job)
        return job

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.settings.timeout_seconds

    async def speak(self, text: str, voice: Voice, synthesizer, audio_format: str,
                    disconnected: asyncio.Future, naturalness: bool = False, speed: float = 1.0,
                    timings: bool = False) -> Spoken:
        """The whole text synthesized in a worker at `speed` and encoded, with its report (kept by
        its id) and word timings; `naturalness`: its predicted MOS is scored too, before the answer
        (the worker's time). `timings`: a voice that gave no alignment is refused (422 naming
        timings) after the work, as only the decoding tells."""
        received = time.monotonic()
        metrics = self.metrics

        def work():
            started = time.monotonic()
            spoken = []
            for piece in synthesizer.stream(text, speed=speed):
                metrics.segments.inc()
                spoken.append(piece)
                yield piece
            synthesis = synthesizer.join_spoken(text, spoken)
            body = encode(synthesis.waveform, synthesis.sample_rate, audio_format)
            seconds = time.monotonic() - started
            scored = (score_naturalness(synthesis.segment_audio, synthesis.sample_rate)
                      if naturalness else None)
            words = (None if synthesis.segment_words is None
                     else [word for words in synthesis.segment_words for word in words])
            yield Finished(synthesis.segments, synthesis.waveform, body, seconds, scored, words)

        job = self._submit(work)
        finished = None
        async for item in job.results(self._deadline(), disconnected):
            finished = item
        report = request_report(uuid.uuid4().hex, voice, synthesizer, text, finished.segments,
                                len(finished.waveform), finished.synthesis_seconds,
                                job.started - received, finished.naturalness, speed, finished.words)
        self.reports.add(report, finished.segments)
        metrics.finished(finished.synthesis_seconds, report["audio_seconds"], voice.name, voice.runtime)
        if timings and finished.words is None:
            raise HTTPException(422, no_timings_message(voice))
        return Spoken(finished.body, report, finished.words)

    async def start_stream(self, request_id: str, text: str, voice: Voice, synthesizer,
                           audio_format: str, disconnected: asyncio.Future,
                           naturalness: bool = False, speed: float = 1.0,
                           timings: bool = False) -> AsyncIterator[bytes]:
        """Each segment's audio as soon as it is decoded, post-processed one by one: a WAV header of
        unknown length first (format wav) or bare 16-bit samples (pcm). Returns once the first
        segment is ready, so that its errors still get a status; `disconnected` is watched till
        then. The report is kept under `request_id` when the stream ends. `naturalness`: the
        predicted MOS is scored after the last segment's audio was handed on, so it delays the end
        of the stream and the report, never the audio. `speed`: each segment and the pause after
        it (Synthesizer.stream scales the pause by scaled_pause). `timings`: NDJSON events instead
        of bare audio (segment_events); a first segment without alignment is refused (422 naming
        timings), a later one ends the stream with an error event."""
        received = time.monotonic()
        sample_rate = synthesizer.sample_rate
        metrics = self.metrics

        def work():
            started = time.monotonic()
            spoken = []  # each segment's audio before post-processing, as `synth --report` scores it
            sent = 0  # samples of the stream before this segment
            for piece in synthesizer.stream(text, speed=speed):
                metrics.segments.inc()
                audio, words = synthesizer.postprocess_with_words(piece.audio, piece.words)
                if words is not None:  # from seconds of this segment to seconds of the stream
                    words = moved(words, shift=sent / sample_rate)
                pause = np.zeros(round(piece.pause_after * sample_rate), dtype=np.float32)
                samples = np.concatenate([audio, pause])
                spoken.append(piece.audio)
                yield StreamedSegment(piece.segment, pcm16(samples), len(samples),
                                      time.monotonic() - started, words, sample_rate)
                sent += len(samples)
            if naturalness:
                yield score_naturalness(spoken, sample_rate)

        job = self._submit(work)
        until = self._deadline()
        try:
            first = await anext(job.results(until, disconnected))
        except StopAsyncIteration:
            raise UserError("nothing to say") from None
        if timings and first.words is None:
            job.cancel()
            raise HTTPException(422, no_timings_message(voice))

        async def chunks():
            streamed, scored, broken = [first], None, False
            try:
                if timings:
                    yield segment_events(0, 0, first)
                elif audio_format == "wav":
                    yield streaming_wav_header(sample_rate) + first.body
                else:
                    yield first.body
                async for item in job.results(until):
                    if isinstance(item, Scored):
                        scored = item
                        continue
                    if timings and item.words is None:
                        broken = True
                        yield event_line({"type": "error", "detail": no_timings_message(voice)})
                        break
                    if timings:
                        yield segment_events(len(streamed), sum(s.samples for s in streamed), item)
                    else:
                        yield item.body
                    streamed.append(item)
            finally:
                job.cancel()  # the client left (or time ran out): drop the rest of the work
            segments = [item.segment for item in streamed]
            seconds = streamed[-1].synthesis_seconds
            waited = job.started - received
            words = (None if any(item.words is None for item in streamed)
                     else [word for item in streamed for word in item.words])
            report = request_report(request_id, voice, synthesizer, text, segments,
                                    sum(item.samples for item in streamed), seconds, waited, scored,
                                    speed, words)
            # When each segment's audio was ready to send, in seconds since the request arrived.
            report["segment_ready_seconds"] = [round(waited + item.synthesis_seconds, 3)
                                               for item in streamed]
            self.reports.add(report, segments)
            metrics.finished(seconds, report["audio_seconds"], voice.name, voice.runtime)
            if timings and not broken:
                yield event_line({"type": "end", "request_id": request_id,
                                  "audio_seconds": report["audio_seconds"], "segments": len(segments)})

        return chunks()
