"""`tacotron serve`: the HTTP API, the web page and the Wyoming server on top of `tacotron.inference`.

    voices.py   the voices a server speaks with (name -> Synthesizer and its vocoders)
    jobs.py     the bounded queue and the fixed synthesis threads behind every request
    memory.py   each finished request's freed memory given back to the system (malloc_trim)
    audio.py    audio formats (WAV, FLAC, OGG/Vorbis, Opus, MP3, raw PCM) and the streamed WAV
    metrics.py  the Prometheus metrics
    service.py  the speech service: voices, queue, metrics, reports and limits of one server
    routes.py   the endpoints: /api/*, /v1/audio/speech, /healthz, /metrics, the page
    app.py      the FastAPI application around them, and the one table of error answers
    wyoming_server.py  the Wyoming protocol (Home Assistant) on the same speech service
    server.py   uvicorn around it (or the Wyoming server alone), for the CLI
"""
