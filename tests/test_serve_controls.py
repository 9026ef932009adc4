"""Speed, word timings and the stressed text through the real server: uvicorn on loopback, called
with urllib, the real `openai` client and headless Chromium (as tests/test_serve.py does). The
voices are untrained tiny checkpoints: their gate never fires, so each segment is exactly as long
as inference.max_frames_per_symbol allows, and the speed changes that length by exactly 1/speed
(inference.speed_method "mel" resamples the decoded frames)."""

import base64
import http.client
import io
import json

import numpy as np
import pytest
import soundfile

from test_serve import SAMPLE_RATE, SENTENCES, build_checkpoint, call, decode, find_chromium, running_server

pytestmark = pytest.mark.slow

FAST = ["inference.max_frames_per_symbol=2", "audio.griffin_lim_iters=4"]
TEXT = "The first sentence is here. A second one follows it."


@pytest.fixture(scope="module")
def voice_specs(tmp_path_factory):
    root = tmp_path_factory.mktemp("voices")
    return [f"fast={build_checkpoint(root / 'fast', FAST)}", f"mute={build_checkpoint(root / 'mute', FAST)}"]


@pytest.fixture(scope="module")
def server(voice_specs):
    """The voice "mute" gives no usable alignment: its synthesizer finds no word times (as a voice whose
    decoder reports no attention would), so timings are refused for it."""
    with running_server(voice_specs) as url:
        yield url


@pytest.fixture(scope="module", autouse=True)
def mute_has_no_alignment():
    from tacotron.serve import voices as voices_module

    original = voices_module.load_voices

    def load(specs, *arguments, **options):
        loaded = original(specs, *arguments, **options)
        if "mute" in loaded:
            loaded["mute"].synthesizer._decoded_words = lambda segment: None
        return loaded

    voices_module.load_voices = load
    yield
    voices_module.load_voices = original


def seconds_of(body: bytes) -> float:
    samples, rate = decode(body)
    return len(samples) / rate


def test_openai_client_speed_shortens_the_audio_by_one_over_speed(server):
    import openai

    client = openai.OpenAI(base_url=f"{server}/v1", api_key="not-needed", max_retries=0)
    durations = {speed: seconds_of(client.audio.speech.create(model="tts-1", voice="fast", input=TEXT,
                                                              response_format="wav", speed=speed).content)
                 for speed in (1.0, 1.5, 0.75)}
    for speed in (1.5, 0.75):
        ratio = durations[speed] / durations[1.0]
        assert abs(ratio * speed - 1.0) < 0.10, (speed, durations)
    print(f"durations by speed (tiny voice, Griffin-Lim): {durations}")
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.audio.speech.create(model="tts-1", voice="fast", input=TEXT, speed=4.5)
    error = raised.value.response.json()["error"]
    assert error["param"] == "speed" and error["message"].startswith("speed: ") and error["code"] == 422


def test_speed_out_of_range_is_a_422_naming_speed_on_every_route(server):
    for path, body in [("/api/tts", {"text": TEXT, "speed": 0.1}), ("/api/tts/stream", {"text": TEXT, "speed": 5}),
                       ("/api/tts", {"text": TEXT, "speed": "fast"})]:
        status, _, answer = call(server, path, body)
        assert status == 422 and json.loads(answer)["detail"].startswith("speed: "), (path, answer)
    status, _, answer = call(server, "/api/tts?text=Hello.&speed=9")
    assert status == 422 and json.loads(answer)["detail"].startswith("speed: ")
    # In range on the link and the stream too: half the speed, twice the audio.
    slow = seconds_of(call(server, "/api/tts?text=Hello%20there.&speed=0.5")[2])
    normal = seconds_of(call(server, "/api/tts?text=Hello%20there.")[2])
    assert abs(slow / normal - 2.0) < 0.2, (slow, normal)


def check_words(words: list[dict], audio_seconds: float, count: int) -> None:
    assert [set(word) for word in words] == [{"word", "start", "end"}] * count
    starts = [word["start"] for word in words]
    assert starts == sorted(starts)
    assert all(0 <= w["start"] <= w["end"] <= audio_seconds + 1e-3 for w in words), words
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(words, words[1:]))
    assert words[-1]["end"] > audio_seconds / 2  # they span the audio, not a corner of it


def test_tts_timings_answer_json_with_the_audio_and_its_words(server):
    status, headers, body = call(server, "/api/tts", {"text": TEXT, "voice": "fast", "timings": True})
    assert status == 200 and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert set(answer) == {"request_id", "format", "sample_rate", "audio_seconds", "audio", "words"}
    audio = base64.b64decode(answer["audio"])
    assert answer["format"] == "wav" and answer["sample_rate"] == SAMPLE_RATE
    assert abs(seconds_of(audio) - answer["audio_seconds"]) < 1e-3
    assert [w["word"] for w in answer["words"]] == TEXT.split()
    check_words(answer["words"], answer["audio_seconds"], len(TEXT.split()))
    report = json.loads(call(server, f"/api/requests/{answer['request_id']}")[2])
    assert report["words"] == answer["words"] and report["speed"] == 1.0
    assert report["stressed"] == " ".join(s["stressed"] for s in report["segments"])
    # Twice as fast: every word's time halves (within a frame and the trims).
    fast = json.loads(call(server, "/api/tts", {"text": TEXT, "voice": "fast", "timings": True,
                                                "speed": 2.0})[2])
    assert abs(fast["words"][-1]["end"] / answer["words"][-1]["end"] - 0.5) < 0.05
    check_words(fast["words"], fast["audio_seconds"], len(TEXT.split()))
    # Without timings the audio bytes, and the words still in the report.
    status, headers, body = call(server, "/api/tts", {"text": TEXT, "voice": "fast"})
    assert headers["Content-Type"] == "audio/wav"
    report = json.loads(call(server, f"/api/requests/{headers['X-Request-Id']}")[2])
    check_words(report["words"], report["audio_seconds"], len(TEXT.split()))


def read_events(url: str, body: dict) -> tuple[int, dict, list[dict]]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    connection.request("POST", "/api/tts/stream", json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status != 200:
        return response.status, dict(response.getheaders()), [json.loads(data)]
    return response.status, dict(response.getheaders()), [json.loads(line) for line in data.splitlines()]


def test_stream_with_timings_sends_audio_and_words_events_in_stream_seconds(server):
    text = " ".join(SENTENCES[:3])
    status, headers, events = read_events(server, {"text": text, "voice": "fast", "timings": True,
                                                   "speed": 1.25})
    assert status == 200 and headers["content-type"] == "application/x-ndjson"
    assert [e["type"] for e in events] == ["audio", "words"] * 3 + ["end"]
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "audio")
    audio_seconds = len(pcm) / 2 / SAMPLE_RATE
    assert abs(audio_seconds - events[-1]["audio_seconds"]) < 1e-3
    audio_events = [e for e in events if e["type"] == "audio"]
    word_events = [e for e in events if e["type"] == "words"]
    for audio, words in zip(audio_events, word_events):
        # Each segment's words lie within its own stretch of the stream (absolute seconds).
        end = audio["start"] + audio["samples"] / SAMPLE_RATE
        assert all(audio["start"] - 1e-3 <= w["start"] <= w["end"] <= end + 1e-3 for w in words["words"])
    words = [w for e in word_events for w in e["words"]]
    assert [w["word"] for w in words] == text.split()
    check_words(words, audio_seconds, len(text.split()))
    report = json.loads(call(server, f"/api/requests/{headers['x-request-id']}")[2])
    assert report["words"] == words and report["speed"] == 1.25
    # The same text without timings: the same number of samples (WAV header aside).
    _, _, plain = call(server, "/api/tts/stream", {"text": text, "voice": "fast", "format": "pcm",
                                                   "speed": 1.25})
    assert len(plain) == len(pcm)


def test_timings_of_a_voice_without_alignment_are_refused_naming_timings(server):
    status, _, body = call(server, "/api/tts", {"text": TEXT, "voice": "mute", "timings": True})
    assert status == 422 and json.loads(body)["detail"].startswith("timings: voice 'mute'")
    status, _, events = read_events(server, {"text": TEXT, "voice": "mute", "timings": True})
    assert status == 422 and events[0]["detail"].startswith("timings: ")
    status, headers, _ = call(server, "/api/tts", {"text": TEXT, "voice": "mute"})
    assert status == 200  # without timings it speaks; the report says it has no words
    assert json.loads(call(server, f"/api/requests/{headers['X-Request-Id']}")[2])["words"] is None


def test_page_speed_control_and_karaoke_follow_the_audio(server, tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(server + "/")
            page.wait_for_function("document.getElementById('voice').options.length === 2")
            page.fill("#text", TEXT)
            page.fill("#speed", "1.5")
            page.click("#speak")
            page.wait_for_selector("#words:not([hidden])", timeout=120_000)
            page.wait_for_function("isFinite(document.getElementById('player').duration)")
            request_id = page.get_attribute("#player", "data-request-id")
            report = json.loads(call(server, f"/api/requests/{request_id}")[2])
            assert report["speed"] == 1.5
            assert page.locator("#words span").count() == len(TEXT.split())
            highlighted = []
            for index in (1, len(TEXT.split()) - 2):
                word = report["words"][index]
                if word["end"] <= word["start"]:
                    continue
                middle = (word["start"] + word["end"]) / 2
                page.evaluate(f"document.getElementById('player').currentTime = {middle}")
                page.wait_for_function(f"document.querySelector('#words span.spoken')?.dataset.index === '{index}'")
                highlighted.append(page.inner_text("#words span.spoken"))
            assert highlighted and highlighted == [report["words"][i]["word"] for i in (1, len(TEXT.split()) - 2)
                                                   if report["words"][i]["end"] > report["words"][i]["start"]]
            assert page.locator("#words span.spoken").count() == 1
            # English is not stressed: the stressed line stays hidden.
            assert page.is_hidden("#stressed")
            page.screenshot(path=str(tmp_path / "karaoke.png"), full_page=True)
        finally:
            browser.close()
