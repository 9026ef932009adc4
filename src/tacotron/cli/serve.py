"""`tacotron serve`: the HTTP API and web page for trained voices (tacotron.serve)."""

from __future__ import annotations

from tacotron.cli.arguments import VOCODER_HELP, Default, HelpText, only_given
from tacotron.errors import UserError

SERVE_HOST = Default("tacotron.config", "ServeConfig", "host")
SERVE_PORT = Default("tacotron.config", "ServeConfig", "port")


def add_command(commands) -> None:
    serve = commands.add_parser("serve", help=HelpText(
        "HTTP API and web page for trained voices (http://{}:{}/), until Ctrl-C", SERVE_HOST, SERVE_PORT))
    serve.add_argument("--checkpoint", action="append",
                       help="run folder or checkpoint file, or NAME=PATH; repeat for several "
                       "voices (the first is the default); none: the shipped base voices")
    serve.add_argument("--vocoder", help=VOCODER_HELP)
    serve.add_argument("--host", help=HelpText("interface to listen on (default serve.host: {})", SERVE_HOST))
    serve.add_argument("--port", type=int, help=HelpText("default serve.port: {}", SERVE_PORT))
    serve.add_argument("--device", help=HelpText("cpu | cuda | cuda:N (default {})",
                                                 Default("tacotron.serve.voices", "load_voices", "device")))
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
    # --host and --port are serve.host and serve.port given as flags: over the overrides.
    options = [f"serve.{key}={value}" for key, value in (("host", args.host), ("port", args.port))
               if value is not None]
    settings = load_config(path=args.config, overrides=[*serving, *options]).serve
    # No --checkpoint: the base voices shipped in the package.
    voices = load_voices(args.checkpoint or base_voice_names(), overrides=speaking,
                         **only_given(vocoder=args.vocoder, device=args.device))
    run_server(voices, settings, say=lambda line: print(line, flush=True))
