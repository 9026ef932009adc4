"""The HTTP routes: each reads the request, asks the speech service (`app.state.service`) and
answers. What can go wrong after the checks (a full queue, a timeout, a text that cannot be said,
a client that left) is raised on and answered by app.py's error handlers.

`api` needs the API key when the server has one; `public` (liveness, metrics, the page, and the
/v1 listings of models and voices, which Open WebUI fetches without a key) never does.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tacotron.evaluation.naturalness import naturalness_available
from tacotron.inference.speed import MAX_SPEED, MIN_SPEED
from tacotron.monitoring.plots import alignment_png
from tacotron.serve.audio import MEDIA_TYPES, STREAM_FORMATS
from tacotron.serve.jobs import JobTimeout
from tacotron.serve.service import SpeechService
from tacotron.serve.voices import Voice

LOG = logging.getLogger("tacotron.serve")
STATIC_DIR = Path(__file__).parent / "static"
MAX_SEED = 2**31 - 1
PICTURE_SEGMENTS = 12  # the alignment picture shows at most this many segments, side by side
SPEED_DESCRIPTION = (f"{MIN_SPEED} to {MAX_SPEED}: 1.0 as the voice speaks, 2.0 twice as fast (half "
                     "the duration) at the same pitch; pauses between sentences scale too")
AudioFormat = Literal["wav", "flac", "ogg", "opus", "mp3", "pcm"]
StreamFormat = Literal["wav", "pcm"]
NDJSON = "application/x-ndjson"  # the stream with timings: one JSON event a line


class SpeechRequest(BaseModel):
    # strict: a value of another JSON type is refused (422), not converted: `"seed": false` was
    # taken as seed 0 and `"naturalness": "yes"` as true, which the schema (/openapi.json) forbids.
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description="what to say")
    voice: str | None = Field(None, description="a name from /api/voices; default: the first")
    format: AudioFormat = "wav"
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="inference.seed of this request")
    vocoder: str | None = Field(None, description="one of the voice's vocoders (/api/voices)")
    speaker: str | None = Field(None, description="one of a multi-speaker voice's speakers "
                                                  "(/api/voices); default: its first")
    naturalness: bool = Field(False, description="also score the audio's predicted MOS (1-5) into "
                                                 "the report, after the audio; needs a server with "
                                                 "DistillMOS (/api/voices: naturalness)")
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED,
                         description=SPEED_DESCRIPTION)
    timings: bool = Field(False, description="answer JSON: the audio in base64 with each word's start "
                                             "and end in seconds (TimedSpeech); 422 naming timings "
                                             "when the voice gives no alignment")


class StreamRequest(SpeechRequest):
    format: StreamFormat = "wav"
    timings: bool = Field(False, description="answer NDJSON events instead of bare audio: per "
                                             "segment an `audio` event (base64 16-bit PCM) and a "
                                             "`words` event (seconds of the streamed audio), then "
                                             "`end`, or `error`")


class TimedWord(BaseModel):
    word: str = Field(description="as written in the text, with its punctuation")
    start: float = Field(description="seconds from the start of the audio")
    end: float


class TimedSpeech(BaseModel):
    """The answer of /api/tts with timings=true: the audio and its words in one JSON body."""

    request_id: str = Field(description="its report: /api/requests/ID")
    format: str
    sample_rate: int
    audio_seconds: float
    audio: str = Field(description="the encoded audio file (as without timings), base64")
    words: list[TimedWord]


class OpenAISpeechRequest(BaseModel):
    """OpenAI's `audio.speech.create` body. Fields this server does not use (`instructions`,
    `stream_format`) are accepted and ignored, so unchanged clients work."""

    model_config = ConfigDict(extra="ignore", strict=True)  # strict: as SpeechRequest's

    model: str
    input: str
    voice: str
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED, description=SPEED_DESCRIPTION)


class ErrorAnswer(BaseModel):
    """The body of every error answer outside /v1 (app.error_answer)."""

    detail: str = Field(description="what is wrong, naming the field")


class OpenAIErrorDetail(BaseModel):
    message: str = Field(description="what is wrong, naming the field")
    type: str
    param: str | None = Field(description="the request field at fault, when a check of one failed")
    code: int = Field(description="the HTTP status")


class OpenAIErrorAnswer(BaseModel):
    """The body of every error answer under /v1: OpenAI's error shape, which its clients read."""

    error: OpenAIErrorDetail


ERROR_REASONS = {400: "an empty text, or a body that is not JSON",
                 401: "the server has an API key and the request did not carry it",
                 404: "no such voice, vocoder, speaker, model or report",
                 413: "a text longer than serve.max_chars",
                 422: "a field of the wrong type or value, or a text the voice cannot say",
                 501: "naturalness asked of a server without DistillMOS",
                 503: "every worker is busy and the queue is full (see Retry-After)",
                 504: "the synthesis took longer than serve.timeout_seconds"}
SPEECH_ERRORS = (400, 401, 404, 413, 422, 501, 503, 504)


def error_answers(*statuses: int, openai: bool = False) -> dict:
    """OpenAPI `responses` of the error answers a route gives, in the shape app.py sends them, so
    that the schema at /openapi.json documents them (tests/test_api_fuzz.py checks every answer
    against it)."""
    model = OpenAIErrorAnswer if openai else ErrorAnswer
    return {status: {"model": model, "description": ERROR_REASONS[status]} for status in statuses}


def media_answer(*media_types: str, description: str = "the audio; its report in X- headers") -> dict:
    """The OpenAPI `responses` entry of a 200 that is not JSON."""
    return {200: {"description": description, "content": {media: {} for media in dict.fromkeys(media_types)}}}


def speech_service(request: Request) -> SpeechService:
    return request.app.state.service


Service = Annotated[SpeechService, Depends(speech_service)]


def authorized(request: Request, service: Service) -> None:
    if not service.accepts(request.headers.get("authorization", "")):
        raise HTTPException(401, "this server needs an API key: Authorization: Bearer KEY",
                            headers={"WWW-Authenticate": "Bearer"})


api = APIRouter(dependencies=[Depends(authorized)], responses=error_answers(401, 422))
public = APIRouter()


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


def report_headers(report: dict) -> dict[str, str]:
    summary = report["summary"]
    return {"X-Request-Id": report["id"], "X-Voice": report["voice"],
            "X-Sample-Rate": str(report["sample_rate"]),
            "X-Audio-Seconds": f"{report['audio_seconds']:.3f}",
            "X-Synthesis-Seconds": f"{report['synthesis_seconds']:.3f}",
            "X-Segments": str(summary["segments"]), "X-Segments-Retried": str(summary["retried"]),
            "X-Segments-Failed": str(summary["failed"])}


async def wait_for_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def speak_whole(request: Request, service: SpeechService, text: str, voice: Voice,
                      synthesizer, audio_format: str, naturalness: bool = False, speed: float = 1.0,
                      timings: bool = False) -> Response:
    """Synthesize in a worker, answer the encoded audio with the report in headers; `timings`:
    a TimedSpeech JSON body instead (the same audio in base64, and its words)."""
    disconnected = asyncio.ensure_future(wait_for_disconnect(request))
    try:
        spoken = await service.speak(text, voice, synthesizer, audio_format, disconnected, naturalness,
                                     speed, timings)
    finally:
        disconnected.cancel()
    headers = report_headers(spoken.report)
    if timings:
        answer = TimedSpeech(request_id=spoken.report["id"], format=audio_format,
                             sample_rate=spoken.report["sample_rate"],
                             audio_seconds=spoken.report["audio_seconds"],
                             audio=base64.b64encode(spoken.body).decode("ascii"),
                             words=spoken.report["words"])
        return JSONResponse(answer.model_dump(), headers=headers)
    return Response(spoken.body, media_type=MEDIA_TYPES[audio_format], headers=headers)


def speech_answer(*media_types: str) -> dict:
    """The 200 of /api/tts: the audio, or (timings=true) TimedSpeech JSON."""
    answer = media_answer(*media_types, description="the audio, its report in X- headers; with "
                                                    "timings=true TimedSpeech JSON")
    answer[200]["model"] = TimedSpeech  # FastAPI declares it as the application/json content
    return answer


@api.post("/api/tts", response_class=Response,
          responses={**speech_answer(*MEDIA_TYPES.values()), **error_answers(*SPEECH_ERRORS)})
async def tts(request: Request, body: SpeechRequest, service: Service):
    voice, synthesizer = service.prepare(body.text, body.voice, body.vocoder, body.seed,
                                         speaker=body.speaker, naturalness=body.naturalness)
    return await speak_whole(request, service, body.text, voice, synthesizer, body.format,
                             body.naturalness, body.speed, body.timings)


@api.get("/api/tts", response_class=Response,
         responses={**speech_answer(*MEDIA_TYPES.values()), **error_answers(*SPEECH_ERRORS)})
async def tts_link(request: Request, service: Service, text: str = Query(...), voice: str | None = None,
                   format: AudioFormat = "wav", seed: int | None = Query(None, ge=0, le=MAX_SEED),
                   vocoder: str | None = None, speaker: str | None = None, naturalness: bool = False,
                   speed: float = Query(1.0, ge=MIN_SPEED, le=MAX_SPEED, description=SPEED_DESCRIPTION),
                   timings: bool = False):
    chosen, synthesizer = service.prepare(text, voice, vocoder, seed, speaker=speaker,
                                          naturalness=naturalness)
    return await speak_whole(request, service, text, chosen, synthesizer, format, naturalness,
                             speed, timings)


@api.post("/v1/audio/speech", response_class=Response,
          responses={**media_answer(*MEDIA_TYPES.values()),
                     **error_answers(*(s for s in SPEECH_ERRORS if s != 501), openai=True)})
async def openai_speech(request: Request, body: OpenAISpeechRequest, service: Service):
    if body.response_format == "aac":
        raise HTTPException(422, "response_format: 'aac' is not supported here; use mp3, opus, "
                                 "flac, wav or pcm")
    voice_name, speaker = service.openai_voice(body.voice)
    voice, synthesizer = service.prepare(body.input, voice_name, None, None, "input", speaker=speaker)
    return await speak_whole(request, service, body.input, voice, synthesizer, body.response_format,
                             speed=body.speed)


@api.post("/api/tts/stream", response_class=BreakableStream,
          responses={**media_answer(*(MEDIA_TYPES[name] for name in STREAM_FORMATS), NDJSON,
                                    description="the audio as it is made; with timings=true NDJSON "
                                                "events"),
                     **error_answers(*SPEECH_ERRORS)})
async def tts_stream(request: Request, body: StreamRequest, service: Service):
    """Each segment's audio as soon as it is decoded: a WAV whose header declares an unknown
    length, or (format pcm) bare 16-bit samples. Segments are post-processed one by one."""
    voice, synthesizer = service.prepare(body.text, body.voice, body.vocoder, body.seed,
                                         speaker=body.speaker, naturalness=body.naturalness)
    request_id = uuid.uuid4().hex
    # Till the first segment is ready this watches for the client leaving; then StreamingResponse does.
    disconnected = asyncio.ensure_future(wait_for_disconnect(request))
    try:
        chunks = await service.start_stream(request_id, body.text, voice, synthesizer, body.format,
                                            disconnected, body.naturalness, body.speed, body.timings)
    finally:
        disconnected.cancel()
    headers = {"X-Request-Id": request_id, "X-Voice": voice.name,
               "X-Sample-Rate": str(synthesizer.sample_rate),
               "X-Audio-Format": f"{'pcm' if body.timings else body.format}; s16le mono",
               "Cache-Control": "no-store"}
    media_type = NDJSON if body.timings else MEDIA_TYPES[body.format]
    return BreakableStream(chunks, media_type=media_type, headers=headers)


@api.get("/api/voices")
async def list_voices(service: Service):
    # Each voice's runtime (torch / onnx) and its real-time factor over the requests it finished.
    return {"default": service.default_voice,
            "voices": [{**voice.info(), **service.metrics.voice_usage(voice.name)}
                       for voice in service.voices.values()],
            "openai_voices": service.openai_voices,
            "formats": list(MEDIA_TYPES), "stream_formats": list(STREAM_FORMATS),
            "max_chars": service.settings.max_chars,
            # Whether requests may ask for the predicted MOS (`naturalness`): DistillMOS is installed.
            "naturalness": naturalness_available()}


@api.get("/api/requests/{request_id}", responses=error_answers(404))
async def request_details(request_id: str, service: Service):
    return service.reports.get(request_id)[0]


@api.get("/api/requests/{request_id}/alignment.png", response_class=Response,
         responses={**media_answer("image/png", description="the alignment picture"),
                    **error_answers(404)})
async def request_alignment(request_id: str, service: Service):
    report, segments = service.reports.get(request_id)
    shown = segments[:PICTURE_SEGMENTS]
    # Numbers only: a panel is as wide as its decoder steps, too narrow for its text (the
    # report lists the sentences by the same numbers).
    panels = [(str(number), segment.alignment) for number, segment in enumerate(shown, 1)]
    title = (f"{report['voice']}: {len(segments)} segments" +
             (f", the first {len(shown)} shown" if len(shown) < len(segments) else ""))
    png = await run_in_threadpool(alignment_png, panels, title)
    return Response(png, media_type="image/png")


# Model names a client may send to /v1/audio/speech (any name is accepted; these are the ones
# listed): OpenAI's two speech models, which clients default to, and this project's name.
OPENAI_MODELS = ("tts-1", "tts-1-hd", "tacotron")


def openai_model(name: str) -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": "tacotron"}


@public.get("/v1/models")
async def openai_models():
    """OpenAI's model list shape (as openedai-speech and Kokoro-FastAPI answer it)."""
    return {"object": "list", "data": [openai_model(name) for name in OPENAI_MODELS]}


@public.get("/v1/models/{model}", responses=error_answers(404, 422, openai=True))
async def openai_model_details(model: str):
    if model not in OPENAI_MODELS:
        raise HTTPException(404, f"model: no model named {model!r}; models: {', '.join(OPENAI_MODELS)}")
    return openai_model(model)


@public.get("/v1/audio/models")
async def openai_audio_models():
    """{"models": [{"id", "name"}]}: what Open WebUI reads from a custom OpenAI speech server."""
    return {"models": [{"id": name, "name": name} for name in OPENAI_MODELS]}


@public.get("/v1/audio/voices")
async def openai_audio_voices(service: Service):
    """{"voices": [{"id", "name", ...}]}: what Open WebUI reads into its voice list (Kokoro-FastAPI
    answers bare names; Open WebUI reads `id` and `name`). Each voice, then each speaker of a
    multi-speaker voice as VOICE:SPEAKER, which /v1/audio/speech takes as `voice`."""
    voices = []
    for voice in service.voices.values():
        voices.append({"id": voice.name, "name": f"{voice.name} ({voice.language})",
                       "language": voice.language, "runtime": voice.runtime})
        voices.extend({"id": f"{voice.name}:{speaker}", "name": f"{voice.name}: {speaker} ({voice.language})",
                       "language": voice.language, "runtime": voice.runtime}
                      for speaker in voice.synthesizer.speakers)
    return {"voices": voices}


@public.get("/healthz")
async def health(service: Service):
    return {"status": "ok", "voices": list(service.voices), "queue_length": service.queue.waiting}


@public.get("/metrics", response_class=Response,
            responses=media_answer("text/plain", description="Prometheus text format"))
async def prometheus_metrics(service: Service):
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@public.get("/", response_class=FileResponse, include_in_schema=False)
async def page():
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
