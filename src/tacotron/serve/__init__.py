"""`tacotron serve`: the HTTP API and the web page on top of `tacotron.inference`.

    voices.py   the voices a server speaks with (name -> Synthesizer and its vocoders)
    jobs.py     the bounded queue and the fixed synthesis threads behind every request
    audio.py    audio formats (WAV, FLAC, OGG/Vorbis, Opus, MP3, raw PCM) and the streamed WAV
    metrics.py  the Prometheus metrics
    app.py      the FastAPI application: /api/*, /v1/audio/speech, /healthz, /metrics, the page
    server.py   uvicorn around it, for the CLI
"""
