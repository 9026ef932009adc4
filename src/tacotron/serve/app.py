"""The FastAPI application: the speech API, its OpenAI-compatible twin, health, metrics, the page.

FastAPI (on Starlette, served by uvicorn) because its request models are validated by pydantic:
a wrong type or an unknown value is answered 422 naming the field without a line of parsing code
here, and the same models document the API at /docs. Endpoints (routes.py):

    POST /api/tts             JSON {text, voice?, format?, seed?, vocoder?, speaker?, naturalness?,
                              speed?, timings?} -> the audio (timings: JSON, audio in base64 + words)
    GET  /api/tts?text=...    the same as a link
    POST /api/tts/stream      WAV (header of unknown length) or raw PCM, one segment at a time;
                              timings: NDJSON events (audio, words, end / error)
    POST /v1/audio/speech     OpenAI's speech API {model, input, voice, response_format?, speed?};
                              `voice` also one of OpenAI's names (serve.openai_voices)
    GET  /v1/models, /v1/audio/models, /v1/audio/voices
                              the listings OpenAI clients and Open WebUI read (no key needed)
    GET  /api/voices          the voices, their languages, sample rates, steps, vocoders, speakers
    GET  /api/requests/ID     the report of a recent request (X-Request-Id); .../alignment.png
    GET  /healthz, /metrics   liveness; Prometheus text format
    GET  /                    the web page (serve/static)

The voices, the queue, the metrics and the limits are one SpeechService on `app.state.service`;
every error a route raises is answered here, in one table (ERROR_ANSWERS). With serve.wyoming the
Wyoming server (wyoming_server.py) on `app.state.wyoming` serves the same service, started and
stopped with it; serve.http=false runs that lifespan without HTTP (server.py).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from tacotron.config import ServeConfig
from tacotron.errors import UserError
from tacotron.serve.jobs import ClientGone, JobTimeout, QueueFull
from tacotron.serve.metrics import ServerMetrics
from tacotron.serve.routes import (STATIC_DIR, ErrorAnswer, OpenAIErrorAnswer, OpenAIErrorDetail, api,
                                   public)
from tacotron.serve.service import SpeechService
from tacotron.serve.voices import Voice

API_KEY_VARIABLE = "TACOTRON_API_KEY"
CLIENT_GONE = 499  # the status counted for a request whose client left first (nginx's convention)
# The headers a page on another origin (serve.cors_origins) may read.
EXPOSED_HEADERS = ("X-Request-Id", "X-Voice", "X-Sample-Rate", "X-Audio-Seconds", "X-Synthesis-Seconds",
                   "X-Segments", "X-Segments-Retried", "X-Segments-Failed", "X-Audio-Format")


def error_field(error: dict) -> str:
    """The field a pydantic error is about ("" for the body as a whole). Only the location's first
    part says where the field is (body, query, path): a body field may itself be named "path"."""
    location = list(error["loc"])
    if location and location[0] in ("body", "query", "path"):
        location = location[1:]
    return ".".join(str(part) for part in location)


def validation_message(errors: list[dict]) -> tuple[int, str]:
    """Pydantic's errors in plain words, naming each field; bad JSON is a 400, the rest 422."""
    if any(error.get("type") == "json_invalid" for error in errors):
        return 400, "the body is not valid JSON: " + "; ".join(
            str(error.get("ctx", {}).get("error", error["msg"])) for error in errors)
    words = [f"{error_field(error) or 'body'}: {error['msg']}" for error in errors]
    return 422, "; ".join(words)


def error_answer(request: Request, status: int, message: str, headers=None,
                 param: str | None = None) -> JSONResponse:
    """{"detail": message}; under /v1 OpenAI's error shape, which its clients read (`param`: the
    field at fault, when known). Both are declared in routes.py (ErrorAnswer, OpenAIErrorAnswer)."""
    if request.url.path.startswith("/v1/"):
        body = OpenAIErrorAnswer(error=OpenAIErrorDetail(
            message=message, type="invalid_request_error", param=param, code=status)).model_dump()
    else:
        body = ErrorAnswer(detail=message).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = list(error.errors())
    status, message = validation_message(errors)
    # A body that is not JSON at all has no field to blame (its "location" is a character offset).
    param = error_field(errors[0]) or None if status == 422 and errors else None
    return error_answer(request, status, message, param=param)


async def refused(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return error_answer(request, error.status_code, str(error.detail), error.headers)


async def unspeakable(request: Request, error: UserError) -> JSONResponse:
    """The service checks voices, vocoders and speakers itself (404s naming them); a UserError
    that reaches here is the text front end refusing what was asked to be said."""
    return error_answer(request, 422, f"text: {error}")


async def overloaded(request: Request, error: QueueFull) -> JSONResponse:
    settings = request.app.state.service.settings
    return error_answer(request, 503, "the server is busy: every worker is speaking and the queue is "
                                      "full; try again shortly",
                        {"Retry-After": str(settings.retry_after_seconds)})


async def timed_out(request: Request, error: JobTimeout) -> JSONResponse:
    settings = request.app.state.service.settings
    return error_answer(request, 504, f"synthesis took longer than {settings.timeout_seconds:g} s "
                                      "(serve.timeout_seconds) and was stopped; send a shorter text")


async def client_gone(request: Request, error: ClientGone) -> Response:
    return Response(status_code=CLIENT_GONE)  # nobody reads it; counted as 499


ERROR_ANSWERS = {RequestValidationError: invalid_request, StarletteHTTPException: refused,
                 UserError: unspeakable, QueueFull: overloaded, JobTimeout: timed_out,
                 ClientGone: client_gone}


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


@asynccontextmanager
async def lifespan(app: FastAPI):
    """The voices warm up and the synthesis threads start before the first request; they stop
    after the last. The Wyoming server, when there is one, takes clients after the warm-up and
    lets them go before the threads stop."""
    await app.state.service.start()
    wyoming = app.state.wyoming
    if wyoming is not None:
        await wyoming.start()
    try:
        yield
    finally:
        if wyoming is not None:
            await wyoming.stop()
        await app.state.service.stop()


def create_app(voices: dict[str, Voice], settings: ServeConfig,
               api_key: str | None = None) -> FastAPI:
    """`api_key` None reads TACOTRON_API_KEY from the environment (empty or unset: no key).
    serve.wyoming's socket is bound here, so that a taken port is a UserError before start-up."""
    api_key = os.environ.get(API_KEY_VARIABLE, "") if api_key is None else api_key
    service = SpeechService(voices, settings, api_key)
    wyoming = None
    if settings.wyoming:
        from tacotron.serve.wyoming_server import WyomingServer, open_listener

        wyoming = WyomingServer(service, open_listener(settings.wyoming))
    app = FastAPI(title="tacotron", summary="Tacotron 2 speech server", lifespan=lifespan,
                  exception_handlers=ERROR_ANSWERS)
    app.state.service = service
    app.state.wyoming = wyoming
    app.add_middleware(EndpointMetrics, metrics=service.metrics)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"],
                           expose_headers=list(EXPOSED_HEADERS))
    app.include_router(api)
    app.include_router(public)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
