"""`tacotron serve`: the application on uvicorn until Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable

from tacotron.config import ServeConfig
from tacotron.serve.app import API_KEY_VARIABLE, create_app
from tacotron.serve.voices import Voice


def run_server(voices: dict[str, Voice], settings: ServeConfig, say: Callable[[str], None] = print
               ) -> None:
    """Serve until Ctrl-C: uvicorn stops taking requests and gives the running ones up to
    serve.timeout_seconds to finish, then the synthesis threads stop."""
    import os

    import uvicorn

    app = create_app(voices, settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=settings.timeout_seconds)
    server = uvicorn.Server(config)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    for voice in voices.values():
        say(f"voice {voice.name}: {voice.language}, {voice.synthesizer.sample_rate} Hz, "
            f"vocoder {voice.synthesizer.vocoder.name}")
    key = "on (Authorization: Bearer $" + API_KEY_VARIABLE + ")" if os.environ.get(API_KEY_VARIABLE) \
        else "off"
    say(f"API key {key}; {settings.workers} worker(s), queue of {settings.queue_size}")
    say(f"serving on http://{host}:{settings.port}/  (Ctrl-C stops)")
    try:
        server.run()  # re-raises the Ctrl-C it caught once it has shut down
    finally:
        say("stopped")
