"""`tacotron serve`: the real server on a free loopback port, called over HTTP (urllib, the openai
client, a raw socket, headless Chromium). The voices are untrained Tacotron 2 checkpoints built
here: what they say is noise, but every path a request takes is the real one."""

import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tacotron.config import ServeConfig, load_config

from support.http_server import serving
from support.voices import save_untrained_voice

pytestmark = pytest.mark.slow

TINY = ["model.embedding_dim=16", "model.encoder_dim=16", "model.encoder_conv_layers=1",
        "model.attention_rnn_dim=24", "model.decoder_rnn_dim=24", "model.attention_dim=8",
        "model.location_filters=4", "model.prenet_dims=[16, 16]", "model.postnet_channels=8",
        "model.postnet_layers=2", "model.reduction_factor=3", "inference.max_retries=0"]
# "fast" decodes 2 frames per symbol and vocodes with 4 Griffin-Lim iterations; "slow" decodes
# 15 (the cap, its gate never fires) with 48: seconds per sentence on any CPU, so a long text keeps
# the worker busy while a test fills the queue, runs out of time or leaves.
VOICES = {"fast": ["inference.max_frames_per_symbol=2", "audio.griffin_lim_iters=4"],
          "slow": ["inference.max_frames_per_symbol=15", "audio.griffin_lim_iters=48"]}
SENTENCES = ["The first sentence is here.", "A second one follows it.", "Then comes the third.",
             "The fourth is short.", "Here is the fifth.", "And the sixth ends it."]
LONG_TEXT = " ".join(f"Sentence number {n} keeps the worker busy for a while." for n in range(40))
SAMPLE_RATE = 22050


def build_checkpoint(folder: Path, overrides: list[str]) -> Path:
    """An untrained voice (support/voices.save_untrained_voice): its gate never fires, so each
    segment is as long as inference.max_frames_per_symbol allows (a length the tests can rely on)."""
    config = load_config("cpu-tiny", overrides=[*TINY, "text.language=en", "text.input=characters",
                                                *overrides])
    save_untrained_voice(folder, config, step=42)
    return folder


@pytest.fixture(scope="module")
def voice_specs(tmp_path_factory):
    root = tmp_path_factory.mktemp("voices")
    return [f"{name}={build_checkpoint(root / name, overrides)}" for name, overrides in VOICES.items()]


@contextmanager
def running_server(voice_specs, api_key: str = "", **settings):
    """uvicorn in a thread on 127.0.0.1, any free port; yields its base URL."""
    from tacotron.serve.app import create_app
    from tacotron.serve.voices import load_voices

    app = create_app(load_voices(voice_specs, vocoder="griffin-lim"),
                     ServeConfig(port=0, **settings), api_key=api_key)
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def server(voice_specs):
    with running_server(voice_specs) as url:
        yield url


@pytest.fixture(scope="module")
def strict_server(voice_specs):
    """One worker, one waiting place, 3 s per request, an API key, CORS for one origin."""
    with running_server(voice_specs, api_key="sesame", queue_size=1, timeout_seconds=3.0,
                        cors_origins=["http://page.example"]) as url:
        yield url


def call(url: str, path: str, body=None, method: str | None = None, headers: dict | None = None,
         raw: bytes | None = None):
    """(status, headers, body bytes) of one HTTP request; errors are answers too."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url + path, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def detail(body: bytes) -> str:
    return json.loads(body)["detail"]


def metric(url: str, name: str, **labels) -> float:
    """One sample of GET /metrics (0 when absent)."""
    _, _, text = call(url, "/metrics")
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.decode().splitlines():
        if line.startswith(f"{name}{{{wanted}}} " if wanted else f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_for(condition, seconds: float = 120.0, message: str = ""):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message or "timed out waiting"
        time.sleep(0.05)


def decode(audio: bytes) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(audio), dtype="float32")
    return samples, rate


def test_voices_health_and_metrics(server):
    status, _, body = call(server, "/api/voices")
    assert status == 200
    listing = json.loads(body)
    assert listing["default"] == "fast" and listing["max_chars"] == ServeConfig().max_chars
    fast = listing["voices"][0]
    assert [voice["name"] for voice in listing["voices"]] == ["fast", "slow"]
    assert (fast["language"], fast["sample_rate"], fast["checkpoint_step"]) == ("en", SAMPLE_RATE, 42)
    assert fast["vocoder"] == "griffin-lim" and fast["vocoders"] == ["griffin-lim"]
    assert fast["sample_text"].startswith("Hello")
    status, _, body = call(server, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    before = metric(server, "tacotron_synthesis_seconds_count")
    assert call(server, "/api/tts", {"text": "Count me."})[0] == 200
    assert metric(server, "tacotron_synthesis_seconds_count") == before + 1
    assert metric(server, "tacotron_real_time_factor_count") == before + 1
    assert metric(server, "tacotron_audio_seconds_sum") > 0
    assert metric(server, "tacotron_requests_total", endpoint="/api/tts", status="200") >= 1
    assert metric(server, "tacotron_queue_length") == 0
    status, headers, _ = call(server, "/metrics")
    assert headers["Content-Type"].startswith("text/plain")


def test_tts_answers_wav_with_its_report_in_headers_and_at_its_id(server):
    text = " ".join(SENTENCES[:2])
    status, headers, body = call(server, "/api/tts", {"text": text, "voice": "fast"})
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    samples, rate = decode(body)
    assert rate == SAMPLE_RATE == int(headers["X-Sample-Rate"])
    assert abs(len(samples) / rate - float(headers["X-Audio-Seconds"])) < 1e-3
    assert (headers["X-Segments"], headers["X-Segments-Retried"]) == ("2", "0")
    # The gate never fires: each segment is reported as failing the stop check, not hidden.
    assert headers["X-Segments-Failed"] == "2"
    status, _, body = call(server, f"/api/requests/{headers['X-Request-Id']}")
    report = json.loads(body)
    assert [segment["text"] for segment in report["segments"]] == SENTENCES[:2]
    assert report["summary"] == {"segments": 2, "retried": 0, "failed": 2, "attempts": 2}
    assert all(segment["failures"] for segment in report["segments"])
    status, headers, png = call(server, f"/api/requests/{report['id']}/alignment.png")
    assert status == 200 and headers["Content-Type"] == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert call(server, "/api/requests/0123456789abcdef")[0] == 404


def test_predicted_mos_is_scored_into_the_report_only_when_asked(server):
    """The real DistillMOS, when installed: the whole-audio and the streamed report carry each
    sentence's predicted MOS and the text's; without it the server says so and refuses the ask."""
    from tacotron.evaluation.naturalness import naturalness_available

    available = naturalness_available()
    assert json.loads(call(server, "/api/voices")[2])["naturalness"] is available
    text = " ".join(SENTENCES[:2])
    status, headers, body = call(server, "/api/tts", {"text": text, "voice": "fast", "naturalness": True})
    if not available:
        assert status == 501 and "DistillMOS" in detail(body)
        return
    assert status == 200
    asked = json.loads(call(server, f"/api/requests/{headers['X-Request-Id']}")[2])
    stream_headers, _, _ = read_stream(server, {"text": text, "voice": "fast", "naturalness": True})
    streamed = json.loads(call(server, f"/api/requests/{stream_headers['x-request-id']}")[2])
    for report in (asked, streamed):
        scores = [segment["mos"] for segment in report["segments"]]
        assert len(scores) == 2 and all(1.0 <= score <= 5.0 for score in scores)
        assert min(scores) <= report["mos"] <= max(scores) and report["naturalness_seconds"] > 0
        print(f"naturalness_seconds {report['naturalness_seconds']} for {report['audio_seconds']} s "
              f"of audio (synthesis {report['synthesis_seconds']} s)")
    status, headers, _ = call(server, "/api/tts", {"text": text, "voice": "fast"})
    plain = json.loads(call(server, f"/api/requests/{headers['X-Request-Id']}")[2])
    assert plain["mos"] is None and plain["segments"][0]["mos"] is None


def test_every_format_decodes_to_the_reported_duration(server):
    for audio_format, tolerance in [("flac", 1e-3), ("ogg", 0.05), ("opus", 0.05), ("mp3", 0.1)]:
        status, headers, body = call(server, f"/api/tts?text=Short%20one.&format={audio_format}")
        assert status == 200, (audio_format, body[:200])
        samples, rate = decode(body)
        seconds = float(headers["X-Audio-Seconds"])
        assert abs(len(samples) / rate - seconds) < tolerance, audio_format
        assert np.abs(samples).max() > 0.01, audio_format  # sound, not silence
    status, headers, body = call(server, "/api/tts?text=Short%20one.&format=pcm")
    assert headers["Content-Type"] == "audio/L16"
    assert abs(len(body) / 2 / SAMPLE_RATE - float(headers["X-Audio-Seconds"])) < 1e-3


def test_the_same_seed_repeats_and_another_seed_varies(server):
    first = call(server, "/api/tts", {"text": "Seeded.", "seed": 3})[2]
    again = call(server, "/api/tts", {"text": "Seeded.", "seed": 3})[2]
    other = call(server, "/api/tts", {"text": "Seeded.", "seed": 4})[2]
    assert first == again and first != other


def test_openai_client_speaks_through_v1_audio_speech(server):
    import openai

    client = openai.OpenAI(base_url=f"{server}/v1", api_key="not-needed", max_retries=0)
    speech = client.audio.speech.create(model="tts-1", voice="fast", input="Hello from the client.",
                                        response_format="wav")
    samples, rate = decode(speech.content)
    assert rate == SAMPLE_RATE and len(samples) > 0.1 * rate
    mp3 = client.audio.speech.create(model="tts-1", voice="fast", input="Hello again.")  # mp3 default
    assert decode(mp3.content)[1] == SAMPLE_RATE
    # Errors come in OpenAI's shape ({"error": {"message": ...}}), naming the field.
    for arguments, error_type, words in [
            ({"voice": "nobody"}, openai.NotFoundError, "voice: no voice named 'nobody'; voices: fast, "
                                                        "slow, or OpenAI's names: alloy, ash,"),
            ({"speed": 5.0}, openai.UnprocessableEntityError, "speed: Input should be less than or equal to 4"),
            ({"response_format": "aac"}, openai.UnprocessableEntityError, "response_format: 'aac'"),
            ({"input": ""}, openai.BadRequestError, "input: empty")]:
        with pytest.raises(error_type) as raised:
            client.audio.speech.create(**{"model": "tts-1", "voice": "fast", "input": "Hello.",
                                          **arguments})
        assert words in raised.value.response.json()["error"]["message"]


def build_multi_speaker(folder: Path, speakers: list[str], language: str = "en") -> Path:
    """An untrained voice with a speaker table, its gate shut as support/voices shuts it, decoding
    as fast as the "fast" voice."""
    import torch

    from tacotron.model.tacotron2 import Tacotron2
    from tacotron.runs.voice import VOICE_ENTRY, make_voice
    from tacotron.text import get_frontend
    from tacotron.training.checkpoint import save_checkpoint

    config = load_config("cpu-tiny", overrides=[*TINY, *VOICES["fast"], f"text.language={language}",
                                                "text.input=characters", "model.speaker_dim=4"])
    frontend = get_frontend(language, "characters")
    torch.manual_seed(0)
    model = Tacotron2(config.model, len(frontend.symbols), config.audio.n_mels, n_speakers=len(speakers))
    with torch.no_grad():
        model.decoder.gate_projection.weight.zero_()
        model.decoder.gate_projection.bias.fill_(-10.0)
    state = {"model": model.state_dict(), "config": config.to_dict(), "symbols": list(frontend.symbols),
             "speakers": list(speakers), "step": 5}
    state[VOICE_ENTRY] = make_voice(state["config"], state)
    save_checkpoint(folder, state, config.to_yaml(), keep_last=1)
    return folder


def test_openai_voice_names_speak_with_the_default_voice_or_as_mapped(voice_specs, tmp_path):
    """What the openai client and Open WebUI send unless told otherwise ("alloy") speaks, with the
    default voice or as serve.openai_voices maps it; VOICE:SPEAKER names a speaker; other names are
    404 with the list."""
    import openai

    duo = f"duo={build_multi_speaker(tmp_path / 'duo', ['m3', 'f2'])}"
    mapping = {"nova": "slow", "onyx": "duo:f2", "narrator": "duo"}
    with running_server([*voice_specs, duo], openai_voices=mapping) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed", max_retries=0)

        def speak(voice: str) -> tuple[str, bytes]:
            answer = client.audio.speech.with_raw_response.create(
                model="tts-1", voice=voice, input="Hello there.", response_format="pcm")
            return answer.headers["X-Voice"], answer.content

        own = call(url, "/api/tts", {"text": "Hello there.", "voice": "fast", "format": "pcm"})[2]
        for name in ("alloy", "shimmer", "verse"):  # OpenAI's names: the default voice, same samples
            assert speak(name) == ("fast", own)
        assert speak("nova")[0] == "slow" and speak("narrator")[0] == "duo"
        as_f2 = call(url, "/api/tts", {"text": "Hello there.", "voice": "duo", "speaker": "f2",
                                       "format": "pcm"})[2]
        assert speak("onyx") == ("duo", as_f2) == speak("duo:f2")
        assert speak("narrator")[1] != as_f2  # duo's first speaker
        with pytest.raises(openai.NotFoundError) as raised:
            speak("duo:zz")
        assert "speaker: no speaker 'zz' in this voice" in raised.value.response.json()["error"]["message"]
        listing = json.loads(call(url, "/api/voices")[2])
        assert listing["openai_voices"]["alloy"] == "fast" and listing["openai_voices"]["onyx"] == "duo:f2"
        voices = json.loads(call(url, "/v1/audio/voices")[2])["voices"]
        assert [voice["id"] for voice in voices] == ["fast", "slow", "duo", "duo:m3", "duo:f2"]
    from tacotron.errors import UserError
    from tacotron.serve.app import create_app
    from tacotron.serve.voices import load_voices

    voices = load_voices(voice_specs[:1], vocoder="griffin-lim")
    for mapping, words in [({"nova": "nobody"}, "'nova' -> 'nobody', but this server has no voice 'nobody'"),
                           ({"nova": "fast:zz"}, "this voice has a single speaker")]:
        with pytest.raises(UserError, match=words):
            create_app(voices, ServeConfig(openai_voices=mapping), api_key="")


def test_v1_listings_answer_openai_clients_and_open_webui_without_a_key(server, strict_server):
    import openai

    client = openai.OpenAI(base_url=f"{server}/v1", api_key="not-needed", max_retries=0)
    assert [model.id for model in client.models.list()] == ["tts-1", "tts-1-hd", "tacotron"]
    assert client.models.retrieve("tts-1-hd").object == "model"
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-9")
    assert "model: no model named 'gpt-9'" in raised.value.response.json()["error"]["message"]
    # Open WebUI reads {base}/audio/voices and {base}/audio/models, sending no key.
    status, _, body = call(strict_server, "/v1/audio/voices")
    assert status == 200
    assert json.loads(body)["voices"][0] == {"id": "fast", "name": "fast (en)", "language": "en",
                                             "runtime": "torch"}
    status, _, body = call(strict_server, "/v1/audio/models")
    assert status == 200 and json.loads(body)["models"][0] == {"id": "tts-1", "name": "tts-1"}
    assert call(strict_server, "/v1/models")[0] == 200
    # Speech itself still needs the key.
    status, _, body = call(strict_server, "/v1/audio/speech", {"model": "tts-1", "voice": "alloy",
                                                                "input": "Hi."})
    assert status == 401 and "API key" in json.loads(body)["error"]["message"]


def test_an_onnx_export_is_served_beside_pytorch_with_its_runtime_and_rtf(voice_specs, tmp_path):
    pytest.importorskip("onnxruntime")
    from tacotron.errors import UserError
    from tacotron.inference.onnx_export import export_onnx
    from tacotron.serve.voices import load_voices

    export_onnx(voice_specs[0].split("=", 1)[1], tmp_path / "fast-onnx", vocoder="griffin-lim")
    with pytest.raises(UserError, match="not an ONNX export"):
        load_voices(voice_specs[:1], runtime="onnx")
    # No --runtime: the export folder is recognised and runs on onnxruntime, the run on PyTorch.
    with running_server([voice_specs[0], f"onnx={tmp_path / 'fast-onnx'}"]) as url:
        listing = json.loads(call(url, "/api/voices")[2])["voices"]
        assert [(v["name"], v["runtime"], v["requests"], v["real_time_factor"]) for v in listing] == [
            ("fast", "torch", 0, None), ("onnx", "onnx", 0, None)]
        text = " ".join(SENTENCES[:2])
        spoken = {}
        for voice in ("fast", "onnx"):
            status, headers, body = call(url, "/api/tts", {"text": text, "voice": voice, "format": "pcm"})
            assert status == 200 and headers["X-Voice"] == voice
            spoken[voice] = np.frombuffer(body, "<i2").astype(np.float32) / 32767
        # The same decoder loop, the same dropout masks: the same audio up to float rounding.
        assert len(spoken["fast"]) == len(spoken["onnx"]) > SAMPLE_RATE // 4
        assert np.abs(spoken["fast"] - spoken["onnx"]).max() < 1e-3
        listing = json.loads(call(url, "/api/voices")[2])["voices"]
        assert [v["requests"] for v in listing] == [1, 1]
        assert all(v["real_time_factor"] > 0 for v in listing)
        print("RTF (untrained tiny voice, Griffin-Lim 4 iterations): "
              + ", ".join(f"{v['runtime']} {v['real_time_factor']}" for v in listing))
        assert metric(url, "tacotron_voice_synthesis_seconds_total", runtime="onnx", voice="onnx") > 0
        assert metric(url, "tacotron_voice_audio_seconds_total", runtime="torch", voice="fast") > 0


def read_stream(url: str, body: dict) -> tuple[dict, list[tuple[float, bytes]], float]:
    """POST /api/tts/stream on a raw connection: (headers, [(seconds after sending, bytes)], total)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    started = time.monotonic()
    connection.request("POST", "/api/tts/stream", json.dumps(body),
                       {"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200, response.read()
    pieces = []
    while chunk := response.read1(65536):
        pieces.append((time.monotonic() - started, chunk))
    total = time.monotonic() - started
    connection.close()
    return dict(response.getheaders()), pieces, total


def test_stream_sends_the_first_sentence_before_the_whole_text_is_synthesized(server):
    headers, pieces, _ = read_stream(server, {"text": " ".join(SENTENCES), "voice": "fast"})
    data = b"".join(chunk for _, chunk in pieces)
    assert data[:4] == b"RIFF" and data[4:8] == b"\xff\xff\xff\xff"  # length unknown while streaming
    assert data[40:44] == b"\xff\xff\xff\xff"
    report = json.loads(call(server, f"/api/requests/{headers['x-request-id']}")[2])
    assert [segment["text"] for segment in report["segments"]] == SENTENCES  # in order
    # The order, on one clock (seconds since the request was sent / arrived): the first audio
    # reached the client before the server had finished the last sentence.
    first_audio, ready = pieces[0][0], report["segment_ready_seconds"]
    assert len(ready) == 6 and ready == sorted(ready)
    assert first_audio < ready[-1], (first_audio, ready)
    samples = (len(data) - 44) // 2
    assert abs(samples / SAMPLE_RATE - report["audio_seconds"]) < 1e-3
    assert len(decode(data)[0]) == samples  # soundfile reads the unknown-length WAV too
    raw = read_stream(server, {"text": SENTENCES[0], "format": "pcm"})[1]
    assert not b"".join(chunk for _, chunk in raw).startswith(b"RIFF")


def test_bad_input_is_named_and_never_a_500(server):
    too_long = "a" * (ServeConfig().max_chars + 1)
    cases = [
        ({"text": ""}, 400, "text: empty"),
        ({"text": "   "}, 400, "text: empty"),
        ({"text": too_long}, 413, "at most 5000"),
        ({"text": "Hi.", "voice": "nobody"}, 404, "voice: no voice named 'nobody'; voices: fast, slow"),
        ({"text": "Hi.", "voice": "../../etc/passwd"}, 404, "voice: no voice named"),
        ({"text": "Hi.", "vocoder": "/etc/passwd"}, 404, "vocoder: voice 'fast' has no vocoder"),
        ({"text": "Hi.", "format": "aiff"}, 422, "format:"),
        ({"text": 42}, 422, "text: Input should be a valid string"),
        ({"text": "Hi.", "seed": -1}, 422, "seed:"),
        ({"text": "Hi.", "seed": "x"}, 422, "seed:"),
        ({"text": "Hi.", "path": "/tmp"}, 422, "path: Extra inputs are not permitted"),
        ({"voice": "fast"}, 422, "text: Field required"),
        ({"text": "Speak 你好 and 🙂."}, 422, "characters not in the 'en' symbol set: '你', '好', '🙂'"),
        ({"text": "... !"}, 422, "nothing to say"),
    ]
    for body, status, words in cases:
        answer = call(server, "/api/tts", body)
        assert (answer[0], words in detail(answer[2])) == (status, True), (body, answer[0], answer[2])
    for path, status, words in [("/api/tts", 400, "not valid JSON"), ("/api/tts/stream", 400, "not valid JSON")]:
        answer = call(server, path, raw=b'{"text": "Hi.",')
        assert answer[0] == status and words in detail(answer[2])
    answer = call(server, "/api/tts/stream", {"text": "Hi.", "format": "mp3"})
    assert answer[0] == 422 and "format:" in detail(answer[2])
    answer = call(server, "/api/tts/stream", {"text": "Say 你."})
    assert answer[0] == 422 and "'你'" in detail(answer[2])
    answer = call(server, "/api/tts?voice=fast")
    assert answer[0] == 422 and "text: Field required" in detail(answer[2])
    assert metric(server, "tacotron_request_errors_total", endpoint="/api/tts", status="500") == 0


def test_api_key_is_required_when_set_and_pages_stay_open(strict_server, server):
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "sesame"}]:
        status, answer_headers, body = call(strict_server, "/api/voices", headers=headers)
        assert status == 401 and answer_headers["WWW-Authenticate"] == "Bearer"
        assert "API key" in detail(body)
    assert call(strict_server, "/api/tts", {"text": "Hi."})[0] == 401
    status, headers, _ = call(strict_server, "/api/voices", headers={
        "Authorization": "Bearer sesame", "Origin": "http://page.example"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://page.example"
    assert "X-Request-Id" in headers["Access-Control-Expose-Headers"]
    assert call(strict_server, "/healthz")[0] == 200
    status, _, page = call(strict_server, "/")
    assert status == 200 and b"/static/app.js" in page
    assert call(strict_server, "/static/app.js")[0] == 200
    status, headers, _ = call(server, "/api/voices", headers={"Origin": "http://elsewhere.example"})
    assert status == 200  # no key configured: open
    assert "Access-Control-Allow-Origin" not in headers  # CORS off unless serve.cors_origins


def send_raw(url: str, body: dict, key: str = "") -> socket.socket:
    """Send a request on a bare socket and leave it unanswered (to be read or dropped)."""
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    connection = socket.create_connection((host, int(port)))
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    connection.sendall(f"POST /api/tts HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                       f"{auth}Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return connection


def status_of(connection: socket.socket) -> int:
    connection.settimeout(120)
    line = connection.makefile("rb").readline().decode()
    return int(line.split()[1])


def test_full_queue_answers_503_at_once_and_late_requests_504(strict_server):
    key = "sesame"
    auth = {"Authorization": f"Bearer {key}"}
    running = send_raw(strict_server, {"text": LONG_TEXT, "voice": "slow"}, key)
    wait_for(lambda: metric(strict_server, "tacotron_busy_workers") == 1)
    waiting = send_raw(strict_server, {"text": LONG_TEXT, "voice": "slow"}, key)
    wait_for(lambda: metric(strict_server, "tacotron_queue_length") == 1)
    started = time.monotonic()
    status, headers, body = call(strict_server, "/api/tts", {"text": "Hi."}, headers=auth)
    refused_after = time.monotonic() - started
    assert status == 503 and headers["Retry-After"] == str(ServeConfig().retry_after_seconds)
    assert "busy" in detail(body)
    assert refused_after < 3.0  # answered at once, not after the 3 s timeout
    # Both long requests run out of their 3 s: 504, and their work is dropped.
    assert status_of(running) == 504 and status_of(waiting) == 504
    running.close()
    waiting.close()
    wait_for(lambda: metric(strict_server, "tacotron_jobs_dropped_total") == 2)
    assert metric(strict_server, "tacotron_segments_synthesized_total") < 40  # not the 40 sentences
    # The worker is free again.
    assert call(strict_server, "/api/tts", {"text": "Hi.", "voice": "fast"}, headers=auth)[0] == 200
    # A stream that runs out of time: 504 if its first sentence was not ready by then, else its
    # answer is broken off (an incomplete transfer, not a short file that looks whole).
    host, port = strict_server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    connection.request("POST", "/api/tts/stream", json.dumps({"text": LONG_TEXT, "voice": "slow"}),
                       {"Content-Type": "application/json", **auth})
    response = connection.getresponse()
    if response.status == 200:
        with pytest.raises(http.client.IncompleteRead):
            response.read()
    else:
        assert response.status == 504 and "serve.timeout_seconds" in detail(response.read())
    connection.close()
    wait_for(lambda: metric(strict_server, "tacotron_jobs_dropped_total") == 3)


def test_a_client_that_leaves_cancels_its_work(server):
    dropped = metric(server, "tacotron_jobs_dropped_total")
    segments = metric(server, "tacotron_segments_synthesized_total")
    leaving = send_raw(server, {"text": LONG_TEXT, "voice": "slow"})
    wait_for(lambda: metric(server, "tacotron_segments_synthesized_total") > segments)
    leaving.close()
    wait_for(lambda: metric(server, "tacotron_jobs_dropped_total") == dropped + 1)
    assert metric(server, "tacotron_segments_synthesized_total") - segments < 40
    assert metric(server, "tacotron_requests_total", endpoint="/api/tts", status="499") >= 1
    # A stream whose reader leaves after the first sentence stops too.
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    connection.request("POST", "/api/tts/stream", json.dumps({"text": LONG_TEXT, "voice": "slow"}),
                       {"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200 and response.read1(65536)[:4] == b"RIFF"
    connection.close()
    wait_for(lambda: metric(server, "tacotron_jobs_dropped_total") == dropped + 2)
    assert call(server, "/api/tts", {"text": "Still here."})[0] == 200


def test_cli_serves_until_ctrl_c(voice_specs):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
                   "TACOTRON_API_KEY": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "tacotron.cli", "serve", "--checkpoint", voice_specs[0],
         "--vocoder", "griffin-lim", "--port", str(port), "serve.max_chars=100"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    try:
        lines = []
        while not any("serving on" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        assert f"http://127.0.0.1:{port}/" in lines[-1]
        listing = json.loads(call(f"http://127.0.0.1:{port}", "/api/voices")[2])
        assert listing["max_chars"] == 100 and listing["default"] == "fast"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "stopped" in output and "Traceback" not in output


def find_chromium() -> str | None:
    return next(filter(None, (shutil.which(name) for name in ("chromium", "chromium-browser"))), None)


def test_web_page_speaks_shows_report_picture_and_errors(server, tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    text = " ".join(SENTENCES[:3])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1200})
            page.goto(server + "/")
            page.wait_for_function("document.getElementById('voice').options.length === 2")
            assert page.input_value("#text").startswith("Hello!")  # the voice's sample text
            page.fill("#text", text)
            page.click("#speak")
            page.wait_for_selector("#result:not([hidden])", timeout=120_000)
            page.wait_for_function("document.getElementById('player').readyState >= 1"
                                   " && isFinite(document.getElementById('player').duration)")
            page.wait_for_function("document.getElementById('alignment').naturalWidth > 0")
            request_id = page.get_attribute("#player", "data-request-id")
            report = json.loads(call(server, f"/api/requests/{request_id}")[2])
            duration = page.evaluate("document.getElementById('player').duration")
            assert abs(duration - report["audio_seconds"]) < 0.01, (duration, report["audio_seconds"])
            assert report["audio_seconds"] > 0.5
            assert page.locator("#report tbody tr").count() == 3
            assert page.locator("#report tbody tr").first.inner_text().startswith("1\tThe first sentence")
            assert "first audio after" in page.inner_text("#status")
            from tacotron.evaluation.naturalness import naturalness_available
            # The page asks for the predicted MOS where the server can score it, and shows it.
            assert ("Predicted MOS" in page.inner_text("#summary")) == naturalness_available()
            assert page.locator("#download").get_attribute("href").startswith("blob:")
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)

            page.fill("#text", "a" * (report_max_chars(server) + 1))
            page.click("#speak")
            page.wait_for_selector("#error:not([hidden])")
            message = page.inner_text("#error")
            assert "413" in message and "at most" in message
            page.screenshot(path=str(tmp_path / "page-error.png"), full_page=True)
        finally:
            browser.close()
    print(f"screenshots: {tmp_path}")


def report_max_chars(server: str) -> int:
    return json.loads(call(server, "/api/voices")[2])["max_chars"]


def test_voice_names_come_from_the_command_line(tmp_path):
    from tacotron.errors import UserError
    from tacotron.serve.voices import parse_voice_spec

    assert parse_voice_spec("ru=runs/ru") == ("ru", Path("runs/ru"))
    (tmp_path / "demo" / "checkpoints").mkdir(parents=True)
    best = tmp_path / "demo" / "checkpoints" / "best.pt"
    best.write_bytes(b"")
    assert parse_voice_spec(str(best)) == ("demo", best)
    assert parse_voice_spec(str(tmp_path / "demo"))[0] == "demo"
    with pytest.raises(UserError, match="voice name"):
        parse_voice_spec("a b=runs/x")


def test_serve_cli_names_a_missing_checkpoint_or_a_repeated_voice(tmp_path, voice_specs, capsys):
    from tacotron.cli import main

    assert main(["serve", "--checkpoint", str(tmp_path / "nowhere")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["serve", "--checkpoint", voice_specs[0], "--checkpoint", voice_specs[0],
                 "--vocoder", "griffin-lim"]) == 2
    assert "two voices are named 'fast'" in capsys.readouterr().err


def test_text_that_is_not_valid_unicode_is_named_not_a_500(server, tmp_path):
    # Valid JSON can carry a lone surrogate ("\ud800" escaped), which no encoding can write: a phoneme
    # voice's eSpeak call (UTF-8) failed on it with a 500. The front end refuses it by name, in either
    # input mode, before anything encodes it.
    phonemes = build_checkpoint(tmp_path / "phonemes", [*VOICES["fast"], "text.input=phonemes"])
    with running_server([f"phonemes={phonemes}"]) as phoneme_server:
        for url in (server, phoneme_server):
            for path in ("/api/tts", "/api/tts/stream"):
                status, _, body = call(url, path, {"text": "bad \ud800 surrogate"})
                assert status == 422, (url, path, status, body)
                assert "text: a lone surrogate U+D800 at character 4" in detail(body), body
                assert "not valid Unicode" in detail(body)
            assert call(url, "/api/tts", {"text": "Fine."})[0] == 200
            for path in ("/api/tts", "/api/tts/stream"):
                assert metric(url, "tacotron_requests_total", endpoint=path, status="500") == 0
