"""A real uvicorn server in a thread on a free loopback port, for the tests that talk HTTP to the app."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager


@contextmanager
def serving(app, start_timeout: float = 60.0):
    """Runs `app` (ASGI) under uvicorn on 127.0.0.1, any free port; yields its base URL and stops it
    (lifespan shutdown included) on exit."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
