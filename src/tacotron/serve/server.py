"""`tacotron serve`: the application on uvicorn until Ctrl-C; with serve.http=false its lifespan
alone (the voices, the queue and the Wyoming server) in an event loop of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable

import uvicorn

from tacotron.config import ServeConfig
from tacotron.serve.app import API_KEY_VARIABLE, create_app
from tacotron.serve.voices import Voice


def run_server(voices: dict[str, Voice], settings: ServeConfig, say: Callable[[str], None] = print
               ) -> None:
    """Serve until Ctrl-C: uvicorn stops taking requests and gives the running ones up to
    serve.timeout_seconds to finish, then the synthesis threads stop."""
    app = create_app(voices, settings)
    for voice in voices.values():
        say(f"voice {voice.name}: {voice.language}, {voice.synthesizer.sample_rate} Hz, "
            f"vocoder {voice.synthesizer.vocoder.name}, runtime {voice.runtime}")
    wyoming = app.state.wyoming
    if not settings.http:
        say(f"{settings.workers} worker(s), queue of {settings.queue_size}; warming up")
        serving = f"serving Wyoming on {wyoming.address}  (no API key: the protocol has none; Ctrl-C stops)"
        try:
            asyncio.run(serve_without_http(app, lambda: say(serving)))
        finally:
            say("stopped")
        raise KeyboardInterrupt  # it ran until Ctrl-C (or SIGTERM)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=settings.timeout_seconds)
    server = uvicorn.Server(config)
    key = "on (Authorization: Bearer $" + API_KEY_VARIABLE + ")" if os.environ.get(API_KEY_VARIABLE) \
        else "off"
    say(f"API key {key}; {settings.workers} worker(s), queue of {settings.queue_size}; warming up")

    def announce() -> None:
        """The URL once the socket accepts (after the voices' warm-up), with the real port."""
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        say(f"serving on http://{host}:{port}/  (Ctrl-C stops)")
        if wyoming is not None:
            say(f"serving Wyoming on {wyoming.address}  (no API key: the protocol has none)")

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()  # re-raises the Ctrl-C it caught once it has shut down (usually: see below)
    finally:
        say("stopped")
    if server.should_exit:
        # uvicorn re-raises a caught Ctrl-C through asyncio's own SIGINT handler, which loses it
        # when the main task has already finished (seen under load): the exit is still a Ctrl-C.
        raise KeyboardInterrupt


async def serve_without_http(app, started: Callable[[], None]) -> None:
    """The application's lifespan (warm-up, the synthesis threads, the Wyoming server) until
    SIGINT or SIGTERM; `started` is called once it serves."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopping.set)
    try:
        async with app.router.lifespan_context(app):
            started()
            await stopping.wait()
    finally:
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signal_number)
