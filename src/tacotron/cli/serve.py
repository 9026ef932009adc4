"""`tacotron serve`: the HTTP API and web page for trained voices (tacotron.serve)."""

from __future__ import annotations

from tacotron.cli.arguments import VOCODER_HELP, Default, HelpText, only_given
from tacotron.errors import UserError

SERVE_HOST = Default("tacotron.config", "ServeConfig", "host")
SERVE_PORT = Default("tacotron.config", "ServeConfig", "port")


def add_command(commands) -> None:
    serve = commands.add_parser("serve", help=HelpText(
        "HTTP API and web page for trained voices (http://{}:{}/), and the Wyoming protocol "
        "(--wyoming), until Ctrl-C", SERVE_HOST, SERVE_PORT))
    serve.add_argument("--checkpoint", action="append",
                       help="run folder, checkpoint file or ONNX export folder, or NAME=PATH; repeat "
                       "for several voices (the first is the default); none: the shipped base voices")
    serve.add_argument("--vocoder", help=VOCODER_HELP + "; an ONNX voice: its exported one unless given")
    serve.add_argument("--host", help=HelpText("interface to listen on (default serve.host: {})", SERVE_HOST))
    serve.add_argument("--port", type=int, help=HelpText("default serve.port: {}", SERVE_PORT))
    serve.add_argument("--device", help=HelpText("cpu | cuda | cuda:N (default {})",
                                                 Default("tacotron.serve.voices", "load_voices", "device")))
    serve.add_argument("--runtime", choices=["torch", "onnx"],
                       help="every voice on PyTorch, or on onnxruntime (each --checkpoint a folder "
                       "written by `tacotron export --format onnx`); default: each voice by what its "
                       "path is (an ONNX export folder runs on onnxruntime)")
    serve.add_argument("--wyoming", metavar="URI",
                       help="also serve the Wyoming protocol (Home Assistant) at tcp://HOST:PORT "
                       "(e.g. tcp://0.0.0.0:10200) or unix:///PATH; serve.wyoming")
    serve.add_argument("--no-http", action="store_true",
                       help="no HTTP API and page: Wyoming only (serve.http=false)")
    serve.add_argument("--config", help="a YAML file with a serve: section")
    serve.add_argument("overrides", nargs="*", metavar="key=value",
                       help="serve.* (e.g. serve.workers=2), inference.* and postprocess.* settings")
    serve.set_defaults(run=run)


def run(args) -> None:
    import importlib.util

    from tacotron.config import load_config

    missing = [name for name in ("fastapi", "uvicorn", "prometheus_client")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"tacotron serve needs {', '.join(missing)}: pip install 'tacotron[serve]'")
    from tacotron.runs.base_voices import base_voice_names
    from tacotron.serve.server import run_server
    from tacotron.serve.voices import load_voices

    serving = [item for item in args.overrides if item.startswith("serve.")]
    speaking = [item for item in args.overrides if not item.startswith("serve.")]
    # --host, --port, --wyoming and --no-http are serve.* settings given as flags: over the overrides.
    flags = (("host", args.host), ("port", args.port), ("wyoming", args.wyoming),
             ("http", "false" if args.no_http else None))
    options = [f"serve.{key}={value}" for key, value in flags if value is not None]
    settings = load_config(path=args.config, overrides=[*serving, *options]).serve
    if settings.wyoming and importlib.util.find_spec("wyoming") is None:
        raise UserError("serve.wyoming needs the wyoming package: pip install 'tacotron[serve]'")
    # No --checkpoint: the base voices shipped in the package.
    voices = load_voices(args.checkpoint or base_voice_names(), overrides=speaking,
                         **only_given(vocoder=args.vocoder, device=args.device, runtime=args.runtime))
    run_server(voices, settings, say=lambda line: print(line, flush=True))
