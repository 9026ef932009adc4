"""`tacotron serve --wyoming`: the real server (uvicorn with the Wyoming server in its event loop,
or the CLI alone) on loopback, called with the `wyoming` package's own client classes, as
wyoming-piper's tests call theirs. The voices are untrained (test_serve.build_checkpoint): what they
say is noise, but every path an event takes is the real one, and the same text gives the same
samples on every path (deterministic prenet dropout), which the tests compare byte for byte."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tacotron.config import ServeConfig, load_config

from support.http_server import serving
from test_serve import (LONG_TEXT, SAMPLE_RATE, VOICES, build_checkpoint, build_multi_speaker, call, metric,
                        wait_for)

pytestmark = pytest.mark.slow
wyoming = pytest.importorskip("wyoming")

from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient, AsyncUnixClient  # noqa: E402
from wyoming.error import Error  # noqa: E402
from wyoming.event import Event  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming.ping import Ping, Pong  # noqa: E402
from wyoming.tts import (Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop,  # noqa: E402
                         SynthesizeStopped, SynthesizeVoice)

READ_SECONDS = 120  # per event: a generous bound for a loaded CI machine
SPEAKERS = ["m3", "f2"]


@pytest.fixture(scope="module")
def voice_specs(tmp_path_factory):
    root = tmp_path_factory.mktemp("voices")
    specs = [f"{name}={build_checkpoint(root / name, overrides)}" for name, overrides in VOICES.items()]
    return [*specs, f"duo={build_multi_speaker(root / 'duo', SPEAKERS, language='ru')}"]


@contextmanager
def running_servers(voice_specs, wyoming_uri: str, **settings):
    """uvicorn on a free loopback port with the Wyoming server beside it: (HTTP URL, Wyoming URI)."""
    from tacotron.serve.app import create_app
    from tacotron.serve.voices import load_voices

    app = create_app(load_voices(voice_specs, vocoder="griffin-lim"),
                     ServeConfig(port=0, wyoming=wyoming_uri, **settings), api_key="")
    with serving(app) as url:
        yield url, app.state.wyoming.address


@pytest.fixture(scope="module")
def servers(voice_specs):
    with running_servers(voice_specs, "tcp://127.0.0.1:0", timeout_seconds=60.0) as addresses:
        yield addresses


def client_for(uri: str):
    if uri.startswith("unix://"):
        return AsyncUnixClient(uri.removeprefix("unix://"), read_timeout=READ_SECONDS)
    host, port = uri.removeprefix("tcp://").rsplit(":", 1)
    return AsyncTcpClient(host, int(port), read_timeout=READ_SECONDS)


def run(coroutine):
    return asyncio.run(coroutine)


async def events_until(client, last_types: tuple[str, ...]) -> list[Event]:
    """Every event up to and including the first of `last_types`."""
    events = []
    while True:
        event = await client.read_event()
        assert event is not None, f"the server closed the connection after {[e.type for e in events]}"
        events.append(event)
        if event.type in last_types:
            return events


def audio_of(events: list[Event]) -> bytes:
    return b"".join(AudioChunk.from_event(e).audio for e in events if AudioChunk.is_type(e.type))


def http_stream_pcm(url: str, text: str, voice: str, speaker: str | None = None) -> bytes:
    body = {"text": text, "voice": voice, "format": "pcm", **({"speaker": speaker} if speaker else {})}
    status, _, pcm = call(url, "/api/tts/stream", body)
    assert status == 200, pcm[:300]
    return pcm


def test_describe_lists_each_voice_with_its_language_and_speakers(servers):
    async def describe():
        async with client_for(servers[1]) as client:
            await client.write_event(Describe().event())
            return await client.read_event()

    event = run(describe())
    assert Info.is_type(event.type)
    (program,) = Info.from_event(event).tts
    assert program.name == "tacotron" and program.installed and program.supports_synthesize_streaming
    voices = {voice.name: voice for voice in program.voices}
    assert list(voices) == ["fast", "slow", "duo"]
    assert [voices[name].languages for name in voices] == [["en"], ["en"], ["ru"]]
    assert voices["fast"].speakers is None
    assert [speaker.name for speaker in voices["duo"].speakers] == SPEAKERS
    assert all(voice.installed for voice in program.voices)
    assert voices["duo"].description.startswith("duo (ru, 22050 Hz")


def test_synthesize_answers_the_http_streams_samples_in_chunks(servers):
    url, uri = servers
    text = "The first sentence is here. A second one follows it."
    before = metric(url, "tacotron_synthesis_seconds_count")

    async def synthesize():
        async with client_for(uri) as client:
            await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name="fast")).event())
            return await events_until(client, ("audio-stop", "error"))

    events = run(synthesize())
    assert [events[0].type, events[-1].type] == ["audio-start", "audio-stop"]
    assert {event.type for event in events[1:-1]} == {"audio-chunk"}
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (SAMPLE_RATE, 2, 1)
    chunks = [AudioChunk.from_event(event) for event in events[1:-1]]
    assert all((c.rate, c.width, c.channels) == (SAMPLE_RATE, 2, 1) for c in chunks)
    assert max(len(c.audio) for c in chunks) <= round(SAMPLE_RATE * 0.25) * 2  # CHUNK_SECONDS
    pcm = audio_of(events)
    # The same samples as the HTTP stream of the same text: one synthesis path, one queue.
    assert pcm == http_stream_pcm(url, text, "fast")
    samples = len(pcm) // 2
    timestamps = [c.timestamp for c in chunks]
    assert timestamps == sorted(timestamps) and timestamps[0] == 0
    assert AudioStop.from_event(events[-1]).timestamp == round(1000 * samples / SAMPLE_RATE)
    assert np.abs(np.frombuffer(pcm, "<i2")).max() > 300  # sound, not silence
    # Counted by the service like any HTTP request (the Wyoming one and the HTTP stream).
    assert metric(url, "tacotron_synthesis_seconds_count") == before + 2
    assert metric(url, "tacotron_wyoming_events_total", answer="ok", type="synthesize") >= 1


def test_streaming_text_is_spoken_a_sentence_at_a_time_as_it_arrives(servers):
    url, uri = servers
    first, second, third = "The first sentence is here.", "A second one follows it?", "Then comes the third."
    # Cut inside words and sentences, as a language model's tokens arrive.
    pieces = ["The first sen", "tence is here. A sec", "ond one follows it? Then", " comes the third."]

    async def stream():
        async with client_for(uri) as client:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="fast")).event())
            for piece in pieces[:2]:
                await client.write_event(SynthesizeChunk(text=piece).event())
            # The first sentence is spoken before the rest of the text is even sent.
            early = await events_until(client, ("audio-stop", "error"))
            for piece in pieces[2:]:
                await client.write_event(SynthesizeChunk(text=piece).event())
            # The whole text again, as Home Assistant sends it for servers without streaming: ignored.
            await client.write_event(Synthesize(text="".join(pieces)).event())
            await client.write_event(SynthesizeStop().event())
            return early, await events_until(client, ("synthesize-stopped",))

    early, rest = run(stream())
    assert early[0].type == "audio-start" and early[-1].type == "audio-stop"
    groups, current = [], []
    for event in rest:
        if event.type == "audio-start":
            current = []
        elif event.type == "audio-chunk":
            current.append(AudioChunk.from_event(event).audio)
        elif event.type == "audio-stop":
            groups.append(b"".join(current))
    assert [event.type for event in rest].count("audio-start") == 2 and rest[-1].type == "synthesize-stopped"
    assert "error" not in [event.type for event in rest]
    inference = load_config().inference
    silence = lambda seconds: bytes(2 * round(seconds * SAMPLE_RATE))  # noqa: E731
    # Each sentence as its own HTTP stream says it, followed by the pause its punctuation asks for.
    assert audio_of(early) == http_stream_pcm(url, first, "fast") + silence(inference.pause_sentence)
    assert groups[0] == http_stream_pcm(url, second, "fast") + silence(inference.pause_question)
    assert groups[1] == http_stream_pcm(url, third, "fast")  # the last: no pause after it


def test_language_and_speaker_choose_the_voice(servers):
    url, uri = servers
    text = "Привет, как дела?"

    async def speak(voice: SynthesizeVoice):
        async with client_for(uri) as client:
            await client.write_event(Synthesize(text=text, voice=voice).event())
            return await events_until(client, ("audio-stop", "error"))

    before = metric(url, "tacotron_voice_audio_seconds_total", runtime="torch", voice="duo")
    by_language = run(speak(SynthesizeVoice(language="ru_RU")))
    assert metric(url, "tacotron_voice_audio_seconds_total", runtime="torch", voice="duo") > before
    first = run(speak(SynthesizeVoice(name="duo", speaker="m3")))
    other = run(speak(SynthesizeVoice(name="duo", speaker="f2")))
    assert audio_of(by_language) == audio_of(first)  # the first speaker unless one is named
    assert audio_of(first) == http_stream_pcm(url, text, "duo", "m3")
    assert audio_of(other) == http_stream_pcm(url, text, "duo", "f2") != audio_of(first)
    refused = run(speak(SynthesizeVoice(name="duo", speaker="zz")))
    assert [event.type for event in refused] == ["error"]
    assert Error.from_event(refused[0]).code == "not-found"
    assert "no speaker 'zz' in this voice; its speakers: m3, f2" in Error.from_event(refused[0]).text
    refused = run(speak(SynthesizeVoice(language="de")))
    assert Error.from_event(refused[0]).text == "voice: no voice speaks 'de'; languages: en, ru"


def test_bad_events_are_answered_with_errors_and_the_connection_stays_usable(servers):
    url, uri = servers
    too_long = "a" * (ServeConfig().max_chars + 1)
    requests = [
        (Event(type="transcribe", data={"language": "en"}), "unknown-event", "unknown event type 'transcribe'"),
        (Event(type="synthesize", data={"text": 42}), "bad-event", '"text" must be a string'),
        (Event(type="synthesize", data={"text": "Hi.", "voice": "fast"}), "bad-event", '"voice" must be'),
        (Synthesize(text="Hi.", voice=SynthesizeVoice(name="nobody")).event(), "not-found",
         "voice: no voice named 'nobody'; voices: fast, slow, duo"),
        (Synthesize(text="   ").event(), "empty-text", "text: empty"),
        (Synthesize(text=too_long).event(), "text-too-long", "at most 5000 per request (serve.max_chars)"),
        (Synthesize(text="Speak 你好.").event(), "unspeakable-text", "characters not in the 'en' symbol set"),
        (Synthesize(text="<speak>Hi.</speak>", text_format="ssml").event(), "not-supported", "plain text"),
        (SynthesizeChunk(text="Hi.").event(), "no-stream", "send synthesize-start first"),
        (SynthesizeStop().event(), "no-stream", "send synthesize-start first"),
    ]

    async def exchange():
        answers = []
        async with client_for(uri) as client:
            for event, _, _ in requests:
                await client.write_event(event)
                answers.append(await client.read_event())
            # A line that is not JSON, then one whose data is not: each answered, the stream in step.
            client._writer.write(b"this is not json\n")
            answers.append(await client.read_event())
            client._writer.write(b'{"type": "synthesize", "data_length": 5}\n[1, 2')
            answers.append(await client.read_event())
            # A stream whose voice is refused: one error, its chunks ignored, its stop answered.
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="nobody")).event())
            answers.append(await client.read_event())
            await client.write_event(SynthesizeStart().event())
            answers.append(await client.read_event())
            await client.write_event(SynthesizeChunk(text="Never said. Nor this.").event())
            await client.write_event(SynthesizeStop().event())
            answers.append(await client.read_event())
            # Still usable: ping, describe and a synthesis on the same connection.
            await client.write_event(Ping(text="still there?").event())
            pong = await client.read_event()
            await client.write_event(Describe().event())
            info = await client.read_event()
            await client.write_event(Synthesize(text="Fine.").event())
            spoken = await events_until(client, ("audio-stop", "error"))
        return answers, pong, info, spoken

    answers, pong, info, spoken = run(exchange())
    for (event, code, words), answer in zip(requests, answers):
        assert answer.type == "error", (event, answer)
        error = Error.from_event(answer)
        assert (error.code, words in error.text) == (code, True), (event.type, event.data, error)
    assert [Error.from_event(answer).code for answer in answers[-5:-3]] == ["bad-event", "bad-event"]
    refused, second_start, stopped = answers[-3:]
    assert Error.from_event(refused).code == "not-found" and "no voice named 'nobody'" in refused.data["text"]
    assert Error.from_event(second_start).code == "stream-open"
    assert stopped.type == "synthesize-stopped"  # no audio for the refused stream's text
    assert Pong.from_event(pong).text == "still there?" and info.type == "info"
    assert spoken[0].type == "audio-start" and spoken[-1].type == "audio-stop" and len(audio_of(spoken)) > 0
    assert metric(url, "tacotron_wyoming_events_total", answer="unknown-event", type="other") >= 1

    async def oversized():
        # A length past MAX_EVENT_BYTES cannot be skipped safely: an error, then the connection closes.
        async with client_for(uri) as client:
            client._writer.write(b'{"type": "synthesize", "data_length": 999999999}\n')
            return await client.read_event(), await client.read_event()

    error, after = run(oversized())
    assert Error.from_event(error).code == "bad-event" and after is None
    assert call(url, "/healthz")[0] == 200


def test_a_client_that_leaves_mid_stream_cancels_its_work_and_others_are_served(servers):
    url, uri = servers
    dropped = metric(url, "tacotron_jobs_dropped_total")
    segments = metric(url, "tacotron_segments_synthesized_total")

    async def leave():
        client = client_for(uri)
        await client.connect()
        await client.write_event(Synthesize(text=LONG_TEXT, voice=SynthesizeVoice(name="slow")).event())
        start = await client.read_event()
        chunk = await client.read_event()
        await client.disconnect()  # mid-stream: 39 of its 40 sentences still to come
        return start, chunk

    start, chunk = run(leave())
    assert (start.type, chunk.type) == ("audio-start", "audio-chunk")
    wait_for(lambda: metric(url, "tacotron_jobs_dropped_total") == dropped + 1,
             message="the job of the client that left kept running")
    assert metric(url, "tacotron_segments_synthesized_total") - segments < 40
    assert metric(url, "tacotron_busy_workers") == 0

    async def stay():
        async with client_for(uri) as client:
            await client.write_event(Synthesize(text="Still here.").event())
            return await events_until(client, ("audio-stop", "error"))

    assert run(stay())[-1].type == "audio-stop"
    # A stream left between its chunks: nothing keeps running either.
    dropped = metric(url, "tacotron_jobs_dropped_total")

    async def leave_stream():
        client = client_for(uri)
        await client.connect()
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="slow")).event())
        await client.write_event(SynthesizeChunk(text=LONG_TEXT + " And").event())
        assert (await client.read_event()).type == "audio-start"
        await client.disconnect()

    run(leave_stream())
    wait_for(lambda: metric(url, "tacotron_jobs_dropped_total") == dropped + 1)
    assert call(url, "/api/tts", {"text": "And HTTP too."})[0] == 200


def test_shared_queue_busy_and_timeout_over_a_unix_socket(voice_specs, tmp_path):
    """One worker, no waiting place, 3 s per request: an HTTP request holding the worker makes a
    Wyoming synthesis `busy` at once (the same queue); a Wyoming synthesis that runs out of time
    gets `timeout` and no audio-stop."""
    from test_serve import send_raw, status_of

    path = tmp_path / "tts.socket"
    with running_servers(voice_specs[:2], f"unix://{path}", queue_size=0, timeout_seconds=3.0) as (url, uri):
        assert uri == f"unix://{path}"
        holding = send_raw(url, {"text": LONG_TEXT, "voice": "slow"})
        wait_for(lambda: metric(url, "tacotron_busy_workers") == 1)

        async def speak(text: str, voice: str):
            async with client_for(uri) as client:
                await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
                return await events_until(client, ("audio-stop", "error"))

        started = time.monotonic()
        busy = run(speak("Hi.", "fast"))
        assert [event.type for event in busy] == ["error"] and time.monotonic() - started < 3.0
        assert Error.from_event(busy[0]).code == "busy"
        assert status_of(holding) == 504
        holding.close()
        wait_for(lambda: metric(url, "tacotron_busy_workers") == 0)
        late = run(speak(LONG_TEXT, "slow"))
        assert late[-1].type == "error" and "audio-stop" not in [event.type for event in late]
        error = Error.from_event(late[-1])
        assert error.code == "timeout" and "serve.timeout_seconds" in error.text
    assert not path.exists()  # the socket file goes with the server


def test_wyoming_alone_from_the_cli_until_ctrl_c(voice_specs):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"), "TACOTRON_API_KEY": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "tacotron.cli", "serve", "--checkpoint", voice_specs[0], "--vocoder",
         "griffin-lim", "--wyoming", f"tcp://127.0.0.1:{port}", "--no-http"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    try:
        lines = []
        while not any("serving Wyoming on" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        assert f"tcp://127.0.0.1:{port}" in lines[-1]
        assert not any("http://" in line for line in lines)  # no HTTP server

        async def describe_and_speak():
            async with client_for(f"tcp://127.0.0.1:{port}") as client:
                await client.write_event(Describe().event())
                info = Info.from_event(await client.read_event())
                await client.write_event(Synthesize(text="Alone.").event())
                return info, await events_until(client, ("audio-stop", "error"))

        info, spoken = run(describe_and_speak())
        assert [voice.name for voice in info.tts[0].voices] == ["fast"]
        assert spoken[-1].type == "audio-stop" and len(audio_of(spoken)) > 0
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "stopped" in output and "Traceback" not in output


def test_a_taken_wyoming_port_or_a_bad_address_is_named(voice_specs, capsys):
    from tacotron.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--checkpoint", voice_specs[0], "--vocoder", "griffin-lim",
                     "--wyoming", f"tcp://127.0.0.1:{port}"]) == 2
        assert f"serve.wyoming tcp://127.0.0.1:{port}: cannot listen there" in capsys.readouterr().err
    assert main(["serve", "--checkpoint", voice_specs[0], "--wyoming", "http://127.0.0.1:1"]) == 2
    assert "serve.wyoming must be tcp://HOST:PORT or unix:///PATH" in capsys.readouterr().err
    assert main(["serve", "--checkpoint", voice_specs[0], "--no-http"]) == 2
    assert "serve.http=false needs serve.wyoming" in capsys.readouterr().err
