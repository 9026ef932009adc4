"""`tacotron export`: a model for another runtime: ONNX graphs or a small voice file (tacotron.inference)."""

from __future__ import annotations

from tacotron.cli.arguments import VOCODER_HELP, only_given
from tacotron.errors import UserError


def add_command(commands) -> None:
    export = commands.add_parser("export", help="export a model for another runtime")
    export.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    export.add_argument("--vocoder", help=VOCODER_HELP)
    export.add_argument("--format", choices=["onnx", "voice"], default="onnx",
                        help="onnx: ONNX graphs for onnxruntime; voice: one small PyTorch file (float16 "
                        "weights, no optimizer) and a manifest, loadable wherever a checkpoint is")
    export.add_argument("--manifest", help="voice: a JSON file whose entries join the manifest "
                        "(data, command, measured figures)")
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("overrides", nargs="*", metavar="key=value",
                        help="voice: inference.* and postprocess.* settings it speaks with by default, "
                        "e.g. postprocess.noise_gate=false")
    export.set_defaults(run=run)


def run(args) -> None:
    if args.format == "voice":
        from tacotron.inference.voice_export import export_voice

        path = export_voice(args.checkpoint, args.out, args.manifest, args.overrides)
        print(f"exported to {path} ({path.stat().st_size / 2**20:.1f} MiB, weights in float16) and "
              f"{path.parent / 'manifest.json'}; speak with: tacotron synth --checkpoint {path} --text ... --out x.wav")
        return
    from tacotron.inference.onnx_export import export_onnx

    if args.overrides:
        raise UserError(f"key=value settings ({' '.join(args.overrides)}) go with --format voice only")
    manifest = export_onnx(args.checkpoint, args.out, **only_given(vocoder=args.vocoder))
    print(f"exported to {manifest.parent} ({', '.join(sorted(p.name for p in manifest.parent.glob('*.onnx')))}); "
          f"speak with: tacotron synth --runtime onnx --checkpoint {manifest.parent} --text ... --out x.wav")
