"""`tacotron serve`: the application on uvicorn until Ctrl-C."""

from __future__ import annotations

import os
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
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=settings.timeout_seconds)
    server = uvicorn.Server(config)
    for voice in voices.values():
        say(f"voice {voice.name}: {voice.language}, {voice.synthesizer.sample_rate} Hz, "
            f"vocoder {voice.synthesizer.vocoder.name}")
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

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()  # re-raises the Ctrl-C it caught once it has shut down (usually: see below)
    finally:
        say("stopped")
    if server.should_exit:
        # uvicorn re-raises a caught Ctrl-C through asyncio's own SIGINT handler, which loses it
        # when the main task has already finished (seen under load): the exit is still a Ctrl-C.
        raise KeyboardInterrupt
