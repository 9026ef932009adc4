"""The FastAPI application: the speech API, its OpenAI-compatible twin, health, metrics, the page.

FastAPI (on Starlette, served by uvicorn) because its request models are validated by pydantic:
a wrong type or an unknown value is answered 422 naming the field without a line of parsing code
here, and the same models document the API at /docs. Endpoints:

    POST /api/tts             JSON {text, voice?, format?, seed?, vocoder?, speaker?} -> the audio
    GET  /api/tts?text=...    the same as a link
    POST /api/tts/stream      WAV (header of unknown length) or raw PCM, one segment at a time
    POST /v1/audio/speech     OpenAI's speech API {model, input, voice, response_format?, speed?}
    GET  /api/voices          the voices, their languages, sample rates, steps, vocoders, speakers
    GET  /api/requests/ID     the report of a recent request (X-Request-Id); .../alignment.png
    GET  /healthz, /metrics   liveness; Prometheus text format
    GET  /                    the web page (serve/static)
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tacotron.config import ServeConfig
from tacotron.errors import UserError
from tacotron.inference.synthesizer import SegmentSynthesis
from tacotron.serve.audio import MEDIA_TYPES, encode, pcm16, streaming_wav_header
from tacotron.serve.jobs import ClientGone, Job, JobTimeout, QueueFull, SynthesisQueue
from tacotron.serve.metrics import ServerMetrics, real_time_factor
from tacotron.serve.voices import Voice
from tacotron.monitoring.plots import alignment_png

LOG = logging.getLogger("tacotron.serve")
STATIC_DIR = Path(__file__).parent / "static"
API_KEY_VARIABLE = "TACOTRON_API_KEY"
MAX_SEED = 2**31 - 1
PICTURE_SEGMENTS = 12  # the alignment picture shows at most this many segments, side by side
CLIENT_GONE = 499  # the status counted for a request whose client left first (nginx's convention)
# The headers a page on another origin (serve.cors_origins) may read.
EXPOSED_HEADERS = ("X-Request-Id", "X-Voice", "X-Sample-Rate", "X-Audio-Seconds", "X-Synthesis-Seconds",
                   "X-Segments", "X-Segments-Retried", "X-Segments-Failed", "X-Audio-Format")
AudioFormat = Literal["wav", "flac", "ogg", "opus", "mp3", "pcm"]
StreamFormat = Literal["wav", "pcm"]


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="what to say")
    voice: str | None = Field(None, description="a name from /api/voices; default: the first")
    format: AudioFormat = "wav"
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="inference.seed of this request")
    vocoder: str | None = Field(None, description="one of the voice's vocoders (/api/voices)")
    speaker: str | None = Field(None, description="one of a multi-speaker voice's speakers "
                                                  "(/api/voices); default: its first")


class StreamRequest(SpeechRequest):
    format: StreamFormat = "wav"


class OpenAISpeechRequest(BaseModel):
    """OpenAI's `audio.speech.create` body. Fields this server does not use (`instructions`,
    `stream_format`) are accepted and ignored, so unchanged clients work."""

    model_config = ConfigDict(extra="ignore")

    model: str
    input: str
    voice: str
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)


@dataclass
class Finished:
    """The last item of a whole-audio job."""

    segments: list[SegmentSynthesis]
    waveform: np.ndarray
    body: bytes
    synthesis_seconds: float


@dataclass
class StreamedSegment:
    segment: SegmentSynthesis
    body: bytes  # its 16-bit samples, the pause after it included
    samples: int
    synthesis_seconds: float  # since the job started


class BreakableStream(StreamingResponse):
    """A stream whose work can run out of time after its status was sent: then the answer is
    broken off (no last chunk, the connection closed), which a client sees as an incomplete
    transfer rather than a short file that looks whole."""

    async def stream_response(self, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except JobTimeout:
            LOG.warning("a stream ran out of serve.timeout_seconds and was broken off")
            return  # uvicorn closes a connection whose answer did not end
        await send({"type": "http.response.body", "body": b"", "more_body": False})


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


def request_report(request_id: str, voice: Voice, synthesizer, text: str,
                   segments: list[SegmentSynthesis], samples: int, synthesis_seconds: float,
                   queue_seconds: float) -> dict:
    audio_seconds = samples / synthesizer.sample_rate
    return {"id": request_id, "voice": voice.name, "vocoder": synthesizer.vocoder.name,
            "seed": synthesizer.config.inference.seed, "text": text,
            "speaker": synthesizer.speakers[synthesizer.speaker_id()] if synthesizer.speakers else None,
            "sample_rate": synthesizer.sample_rate, "audio_seconds": round(audio_seconds, 3),
            "synthesis_seconds": round(synthesis_seconds, 3),
            "queue_seconds": round(queue_seconds, 3),
            "real_time_factor": round(real_time_factor(synthesis_seconds, audio_seconds), 4),
            "summary": quality_summary(segments), "segments": [s.report() for s in segments]}


def report_headers(report: dict) -> dict[str, str]:
    summary = report["summary"]
    return {"X-Request-Id": report["id"], "X-Voice": report["voice"],
            "X-Sample-Rate": str(report["sample_rate"]),
            "X-Audio-Seconds": f"{report['audio_seconds']:.3f}",
            "X-Synthesis-Seconds": f"{report['synthesis_seconds']:.3f}",
            "X-Segments": str(summary["segments"]), "X-Segments-Retried": str(summary["retried"]),
            "X-Segments-Failed": str(summary["failed"])}


def validation_message(errors: list[dict]) -> tuple[int, str]:
    """Pydantic's errors in plain words, naming each field; bad JSON is a 400, the rest 422."""
    if any(error.get("type") == "json_invalid" for error in errors):
        return 400, "the body is not valid JSON: " + "; ".join(
            str(error.get("ctx", {}).get("error", error["msg"])) for error in errors)
    words = []
    for error in errors:
        field = ".".join(str(part) for part in error["loc"] if part not in ("body", "query"))
        words.append(f"{field or 'body'}: {error['msg']}")
    return 422, "; ".join(words)


class EndpointMetrics:
    """ASGI middleware counting every answer by route and status (a client that left before its
    answer counts as 499)."""

    def __init__(self, app, metrics: ServerMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = CLIENT_GONE

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            self.metrics.answered(getattr(route, "path", "other"), status)


def warm_up(voices: dict[str, Voice]) -> None:
    """Each voice says a word before the server takes requests: the first synthesis in a process
    pays for library start-up (LAPACK, oneDNN: seconds on a CPU), which no client should wait for."""
    for voice in voices.values():
        voice.synthesizer.synthesize("Ready." if voice.language == "en" else "Готово.")


async def wait_for_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def create_app(voices: dict[str, Voice], settings: ServeConfig,
               api_key: str | None = None) -> FastAPI:
    """`api_key` None reads TACOTRON_API_KEY from the environment (empty or unset: no key)."""
    api_key = os.environ.get(API_KEY_VARIABLE, "") if api_key is None else api_key
    metrics = ServerMetrics()
    reports = Reports(settings.kept_reports)
    default_voice = next(iter(voices))
    state: dict = {}

    async def lifespan(app: FastAPI):
        await run_in_threadpool(warm_up, voices)
        state["queue"] = SynthesisQueue(settings.workers, settings.queue_size,
                                        on_queue_length=metrics.queue_length.set,
                                        on_busy=metrics.busy_workers.set,
                                        on_dropped=metrics.dropped.inc)
        yield
        await run_in_threadpool(state["queue"].close)

    app = FastAPI(title="tacotron", summary="Tacotron 2 speech server", lifespan=lifespan)
    app.add_middleware(EndpointMetrics, metrics=metrics)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"],
                           expose_headers=list(EXPOSED_HEADERS))

    def error_answer(request: Request, status: int, message: str, headers=None) -> JSONResponse:
        """{"detail": message}; under /v1 OpenAI's error shape, which its clients read."""
        if request.url.path.startswith("/v1/"):
            body = {"error": {"message": message, "type": "invalid_request_error", "code": status}}
        else:
            body = {"detail": message}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        status, message = validation_message(list(error.errors()))
        return error_answer(request, status, message)

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, error: StarletteHTTPException):
        return error_answer(request, error.status_code, str(error.detail), error.headers)

    def authorized(request: Request) -> None:
        if not api_key:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 api_key.encode()):
            raise HTTPException(401, "this server needs an API key: Authorization: Bearer KEY",
                                headers={"WWW-Authenticate": "Bearer"})

    protected = [Depends(authorized)]

    def pick_voice(name: str | None, field: str) -> Voice:
        name = default_voice if name is None else name
        if name not in voices:
            raise HTTPException(404, f"{field}: no voice named {name!r}; voices: {', '.join(voices)}")
        return voices[name]

    def prepare(text: str, voice_name: str | None, vocoder: str | None, seed: int | None,
                text_field: str = "text", voice_field: str = "voice", speaker: str | None = None):
        """Check what a request asks for, before it takes a place in the queue."""
        if not text.strip():
            raise HTTPException(400, f"{text_field}: empty; there is nothing to say")
        if len(text) > settings.max_chars:
            raise HTTPException(413, f"{text_field}: {len(text)} characters; this server speaks at "
                                     f"most {settings.max_chars} per request (serve.max_chars)")
        voice = pick_voice(voice_name, voice_field)
        if vocoder is not None and vocoder not in voice.vocoders:
            raise HTTPException(404, f"vocoder: voice {voice.name!r} has no vocoder {vocoder!r}; "
                                     f"it has: {', '.join(voice.vocoders)}")
        try:
            voice.synthesizer.speaker_id(speaker)
        except UserError as error:
            raise HTTPException(404, f"speaker: {error}") from None
        return voice, voice.synthesizer_for(vocoder, seed, speaker)

    def submit(work) -> Job:
        job = Job(work, asyncio.get_running_loop())
        try:
            state["queue"].submit(job)
        except QueueFull:
            raise HTTPException(503, "the server is busy: every worker is speaking and the queue is "
                                     "full; try again shortly",
                                headers={"Retry-After": str(settings.retry_after_seconds)}) from None
        return job

    def deadline() -> float:
        return asyncio.get_running_loop().time() + settings.timeout_seconds

    def timed_out() -> HTTPException:
        return HTTPException(504, f"synthesis took longer than {settings.timeout_seconds:g} s "
                                  "(serve.timeout_seconds) and was stopped; send a shorter text")

    def unspeakable(error: UserError) -> HTTPException:
        return HTTPException(422, f"text: {error}")

    async def speak_whole(request: Request, text: str, voice: Voice, synthesizer,
                          audio_format: str) -> Response:
        """Synthesize in a worker, answer the encoded audio with the report in headers."""
        received = time.monotonic()

        def work():
            started = time.monotonic()
            spoken = []
            for piece in synthesizer.stream(text):
                metrics.segments.inc()
                spoken.append(piece)
                yield piece
            synthesis = synthesizer.join(text, [p.segment for p in spoken], [p.audio for p in spoken],
                                         [p.pause_after for p in spoken[:-1]])
            body = encode(synthesis.waveform, synthesis.sample_rate, audio_format)
            yield Finished(synthesis.segments, synthesis.waveform, body, time.monotonic() - started)

        job = submit(work)
        disconnected = asyncio.ensure_future(wait_for_disconnect(request))
        finished = None
        try:
            async for item in job.results(deadline(), disconnected):
                finished = item
        except JobTimeout:
            raise timed_out() from None
        except UserError as error:
            raise unspeakable(error) from None
        except ClientGone:
            return Response(status_code=CLIENT_GONE)  # nobody reads it; counted as 499
        finally:
            disconnected.cancel()
        report = request_report(uuid.uuid4().hex, voice, synthesizer, text, finished.segments,
                                len(finished.waveform), finished.synthesis_seconds,
                                job.started - received)
        reports.add(report, finished.segments)
        metrics.finished(finished.synthesis_seconds, report["audio_seconds"])
        return Response(finished.body, media_type=MEDIA_TYPES[audio_format],
                        headers=report_headers(report))

    @app.post("/api/tts", dependencies=protected, response_class=Response,
              responses={200: {"content": {"audio/wav": {}}}})
    async def tts(request: Request, body: SpeechRequest):
        voice, synthesizer = prepare(body.text, body.voice, body.vocoder, body.seed, speaker=body.speaker)
        return await speak_whole(request, body.text, voice, synthesizer, body.format)

    @app.get("/api/tts", dependencies=protected, response_class=Response)
    async def tts_link(request: Request, text: str = Query(...), voice: str | None = None,
                       format: AudioFormat = "wav", seed: int | None = Query(None, ge=0, le=MAX_SEED),
                       vocoder: str | None = None, speaker: str | None = None):
        chosen, synthesizer = prepare(text, voice, vocoder, seed, speaker=speaker)
        return await speak_whole(request, text, chosen, synthesizer, format)

    @app.post("/v1/audio/speech", dependencies=protected, response_class=Response)
    async def openai_speech(request: Request, body: OpenAISpeechRequest):
        if body.response_format == "aac":
            raise HTTPException(422, "response_format: 'aac' is not supported here; use mp3, opus, "
                                     "flac, wav or pcm")
        if body.speed != 1.0:
            raise HTTPException(422, f"speed: {body.speed:g} is not supported; these voices speak "
                                     "at their trained rate (speed 1.0)")
        voice, synthesizer = prepare(body.input, body.voice, None, None, "input")
        return await speak_whole(request, body.input, voice, synthesizer, body.response_format)

    @app.post("/api/tts/stream", dependencies=protected, response_class=BreakableStream)
    async def tts_stream(request: Request, body: StreamRequest):
        """Each segment's audio as soon as it is decoded: a WAV whose header declares an unknown
        length, or (format pcm) bare 16-bit samples. Segments are post-processed one by one."""
        voice, synthesizer = prepare(body.text, body.voice, body.vocoder, body.seed, speaker=body.speaker)
        received = time.monotonic()
        sample_rate = synthesizer.sample_rate

        def work():
            started = time.monotonic()
            for piece in synthesizer.stream(body.text):
                metrics.segments.inc()
                audio = synthesizer.postprocess(piece.audio)
                pause = np.zeros(round(piece.pause_after * sample_rate), dtype=np.float32)
                samples = np.concatenate([audio, pause])
                yield StreamedSegment(piece.segment, pcm16(samples), len(samples),
                                      time.monotonic() - started)

        job = submit(work)
        until = deadline()
        # The first segment before the answer starts, so that its errors still get a status. Till
        # then this watches for the client leaving; then StreamingResponse does.
        disconnected = asyncio.ensure_future(wait_for_disconnect(request))
        try:
            first = await anext(job.results(until, disconnected))
        except StopAsyncIteration:
            raise HTTPException(422, "text: nothing to say") from None
        except JobTimeout:
            raise timed_out() from None
        except UserError as error:
            raise unspeakable(error) from None
        except ClientGone:
            return Response(status_code=CLIENT_GONE)
        finally:
            disconnected.cancel()
        request_id = uuid.uuid4().hex

        async def chunks():
            streamed = [first]
            try:
                if body.format == "wav":
                    yield streaming_wav_header(sample_rate) + first.body
                else:
                    yield first.body
                async for item in job.results(until):
                    streamed.append(item)
                    yield item.body
            finally:
                job.cancel()  # the client left (or time ran out): drop the rest of the work
            segments = [item.segment for item in streamed]
            seconds = streamed[-1].synthesis_seconds
            waited = job.started - received
            report = request_report(request_id, voice, synthesizer, body.text, segments,
                                    sum(item.samples for item in streamed), seconds, waited)
            # When each segment's audio was ready to send, in seconds since the request arrived.
            report["segment_ready_seconds"] = [round(waited + item.synthesis_seconds, 3)
                                               for item in streamed]
            reports.add(report, segments)
            metrics.finished(seconds, report["audio_seconds"])

        headers = {"X-Request-Id": request_id, "X-Voice": voice.name,
                   "X-Sample-Rate": str(sample_rate), "X-Audio-Format": f"{body.format}; s16le mono",
                   "Cache-Control": "no-store"}
        return BreakableStream(chunks(), media_type=MEDIA_TYPES[body.format], headers=headers)

    @app.get("/api/voices", dependencies=protected)
    async def list_voices():
        return {"default": default_voice, "voices": [voice.info() for voice in voices.values()],
                "formats": list(MEDIA_TYPES), "stream_formats": ["wav", "pcm"],
                "max_chars": settings.max_chars}

    @app.get("/api/requests/{request_id}", dependencies=protected)
    async def request_details(request_id: str):
        return reports.get(request_id)[0]

    @app.get("/api/requests/{request_id}/alignment.png", dependencies=protected,
             response_class=Response)
    async def request_alignment(request_id: str):
        report, segments = reports.get(request_id)
        shown = segments[:PICTURE_SEGMENTS]
        # Numbers only: a panel is as wide as its decoder steps, too narrow for its text (the
        # report lists the sentences by the same numbers).
        panels = [(str(number), segment.alignment) for number, segment in enumerate(shown, 1)]
        title = (f"{report['voice']}: {len(segments)} segments" +
                 (f", the first {len(shown)} shown" if len(shown) < len(segments) else ""))
        png = await run_in_threadpool(alignment_png, panels, title)
        return Response(png, media_type="image/png")

    @app.get("/healthz")
    async def health():
        return {"status": "ok", "voices": list(voices), "queue_length": state["queue"].waiting}

    @app.get("/metrics", response_class=Response)
    async def prometheus_metrics():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=FileResponse, include_in_schema=False)
    async def page():
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.metrics = metrics
    return app
