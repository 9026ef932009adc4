"""The HTTP routes: each reads the request, asks the speech service (`app.state.service`) and
answers. What can go wrong after the checks (a full queue, a timeout, a text that cannot be said,
a client that left) is raised on and answered by app.py's error handlers.

`api` needs the API key when the server has one; `public` (liveness, metrics, the page) never does.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tacotron.evaluation.naturalness import naturalness_available
from tacotron.monitoring.plots import alignment_png
from tacotron.serve.audio import MEDIA_TYPES, STREAM_FORMATS
from tacotron.serve.jobs import JobTimeout
from tacotron.serve.service import SpeechService
from tacotron.serve.voices import Voice

LOG = logging.getLogger("tacotron.serve")
STATIC_DIR = Path(__file__).parent / "static"
MAX_SEED = 2**31 - 1
PICTURE_SEGMENTS = 12  # the alignment picture shows at most this many segments, side by side
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
    naturalness: bool = Field(False, description="also score the audio's predicted MOS (1-5) into "
                                                 "the report, after the audio; needs a server with "
                                                 "DistillMOS (/api/voices: naturalness)")


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


def speech_service(request: Request) -> SpeechService:
    return request.app.state.service


Service = Annotated[SpeechService, Depends(speech_service)]


def authorized(request: Request, service: Service) -> None:
    if not service.accepts(request.headers.get("authorization", "")):
        raise HTTPException(401, "this server needs an API key: Authorization: Bearer KEY",
                            headers={"WWW-Authenticate": "Bearer"})


api = APIRouter(dependencies=[Depends(authorized)])
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
                      synthesizer, audio_format: str, naturalness: bool = False) -> Response:
    """Synthesize in a worker, answer the encoded audio with the report in headers."""
    disconnected = asyncio.ensure_future(wait_for_disconnect(request))
    try:
        spoken = await service.speak(text, voice, synthesizer, audio_format, disconnected, naturalness)
    finally:
        disconnected.cancel()
    return Response(spoken.body, media_type=MEDIA_TYPES[audio_format],
                    headers=report_headers(spoken.report))


@api.post("/api/tts", response_class=Response, responses={200: {"content": {"audio/wav": {}}}})
async def tts(request: Request, body: SpeechRequest, service: Service):
    voice, synthesizer = service.prepare(body.text, body.voice, body.vocoder, body.seed,
                                         speaker=body.speaker, naturalness=body.naturalness)
    return await speak_whole(request, service, body.text, voice, synthesizer, body.format,
                             body.naturalness)


@api.get("/api/tts", response_class=Response)
async def tts_link(request: Request, service: Service, text: str = Query(...), voice: str | None = None,
                   format: AudioFormat = "wav", seed: int | None = Query(None, ge=0, le=MAX_SEED),
                   vocoder: str | None = None, speaker: str | None = None, naturalness: bool = False):
    chosen, synthesizer = service.prepare(text, voice, vocoder, seed, speaker=speaker,
                                          naturalness=naturalness)
    return await speak_whole(request, service, text, chosen, synthesizer, format, naturalness)


@api.post("/v1/audio/speech", response_class=Response)
async def openai_speech(request: Request, body: OpenAISpeechRequest, service: Service):
    if body.response_format == "aac":
        raise HTTPException(422, "response_format: 'aac' is not supported here; use mp3, opus, "
                                 "flac, wav or pcm")
    if body.speed != 1.0:
        raise HTTPException(422, f"speed: {body.speed:g} is not supported; these voices speak "
                                 "at their trained rate (speed 1.0)")
    voice, synthesizer = service.prepare(body.input, body.voice, None, None, "input")
    return await speak_whole(request, service, body.input, voice, synthesizer, body.response_format)


@api.post("/api/tts/stream", response_class=BreakableStream)
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
                                            disconnected, body.naturalness)
    finally:
        disconnected.cancel()
    headers = {"X-Request-Id": request_id, "X-Voice": voice.name,
               "X-Sample-Rate": str(synthesizer.sample_rate),
               "X-Audio-Format": f"{body.format}; s16le mono", "Cache-Control": "no-store"}
    return BreakableStream(chunks, media_type=MEDIA_TYPES[body.format], headers=headers)


@api.get("/api/voices")
async def list_voices(service: Service):
    return {"default": service.default_voice,
            "voices": [voice.info() for voice in service.voices.values()],
            "formats": list(MEDIA_TYPES), "stream_formats": list(STREAM_FORMATS),
            "max_chars": service.settings.max_chars,
            # Whether requests may ask for the predicted MOS (`naturalness`): DistillMOS is installed.
            "naturalness": naturalness_available()}


@api.get("/api/requests/{request_id}")
async def request_details(request_id: str, service: Service):
    return service.reports.get(request_id)[0]


@api.get("/api/requests/{request_id}/alignment.png", response_class=Response)
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


@public.get("/healthz")
async def health(service: Service):
    return {"status": "ok", "voices": list(service.voices), "queue_length": service.queue.waiting}


@public.get("/metrics", response_class=Response)
async def prometheus_metrics(service: Service):
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@public.get("/", response_class=FileResponse, include_in_schema=False)
async def page():
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
