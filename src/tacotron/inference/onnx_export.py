"""`tacotron export --format onnx`: the acoustic model as three graphs plus the vocoder, the split
NVIDIA's Tacotron 2 export uses, since the free-running decoder loop (stop rule, attention
window, retries) is easier to keep in Python than in a graph:

    encoder.onnx        text ids [B, N], lengths [B] (, speaker ids [B] for a multi-speaker
                        model) -> memory [B, N, D], processed memory [B, N, A]
    decoder_step.onnx   one decoder step: previous frame, prenet dropout masks, the recurrent
                        states, attention weights (last and cumulative), context, memory,
                        processed memory, mask -> r mel frames, gate logit, the new states
    postnet.onnx        decoder mel [B, n_mels, T] -> postnet mel (residual added)
    vocoder.onnx        log-mel [B, n_mels, T] -> waveform [B, T * hop] (HiFi-GAN; absent for
                        Griffin-Lim, which runs in torch)
    tacotron_onnx.json  the graph names, the vocoder's name and the voice manifest (runs/voice.py:
                        settings, symbol table, speaker names, speaking rate)

The prenet's dropout stays on at inference (Tacotron 2), so its masks are inputs: the runtime
draws them from the same seeded generator as PyTorch (inference/onnx_runtime.py).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from tacotron.errors import UserError
from tacotron.files import atomic_write_text
from tacotron.inference.vocoder import HifiGanVocoder, load_vocoder
from tacotron.model.tacotron2 import DecoderState, Tacotron2
from tacotron.runs.acoustic import load_acoustic

MANIFEST = "tacotron_onnx.json"
FORMAT = "tacotron-onnx-2"  # 1: before the voice manifest, the run config and voice entries instead
OPSET = 17
STATE_NAMES = ("attention_hidden", "attention_cell", "decoder_hidden", "decoder_cell", "weights",
               "weights_cumulative", "context")


def one_direction(lstm: nn.LSTM, suffix: str) -> nn.LSTM:
    """A one-layer unidirectional LSTM with the weights of one direction of `lstm`."""
    single = nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        getattr(single, name).data.copy_(getattr(lstm, name + suffix).data)
    return single


class EncoderGraph(nn.Module):
    """`Tacotron2.encode` plus the attention's memory layer for a padded batch. Packed sequences
    do not export, so the BiLSTM's backward direction runs over each row reversed within its
    length (a gather) and is reversed back: the packed result, padded positions zero."""

    def __init__(self, model: Tacotron2):
        super().__init__()
        self.model = model
        self.forward_lstm = one_direction(model.encoder.lstm, "")
        self.backward_lstm = one_direction(model.encoder.lstm, "_reverse")

    def forward(self, text: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor | None = None):
        x = self.model.embedding(text).transpose(1, 2)
        for conv in self.model.encoder.convolutions:
            x = conv(x)
        x = x.transpose(1, 2)  # [B, N, C]
        steps = torch.arange(x.size(1), device=x.device)[None, :]
        valid = steps < lengths[:, None]
        # t -> length - 1 - t inside each row, t -> t on its padding: its own inverse.
        reverse = torch.where(valid, lengths[:, None] - 1 - steps, steps)
        forward_out, _ = self.forward_lstm(x)
        reversed_x = torch.gather(x, 1, reverse[:, :, None].expand(-1, -1, x.size(2)))
        backward_out, _ = self.backward_lstm(reversed_x)
        backward_out = torch.gather(backward_out, 1,
                                    reverse[:, :, None].expand(-1, -1, backward_out.size(2)))
        memory = torch.cat([forward_out, backward_out], dim=2) * valid[:, :, None]
        memory = self.model.add_speaker(memory, speakers)
        return memory, self.model.decoder.attention.memory_layer(memory)


class DecoderStepGraph(nn.Module):
    """`Decoder.step` plus the projections, with the prenet's dropout masks (already scaled by
    1 / (1 - p)) as inputs."""

    def __init__(self, model: Tacotron2):
        super().__init__()
        self.decoder = model.decoder

    def forward(self, frame, *inputs):
        layers = self.decoder.prenet.layers
        masks, rest = inputs[:len(layers)], inputs[len(layers):]
        x = self.decoder.standardize(frame)  # the prenet with the dropout masks given, as inputs
        for linear, mask in zip(layers, masks):
            x = torch.relu(linear(x)) * mask
        state = DecoderState(*rest[:len(STATE_NAMES)])
        memory, processed_memory, mask = rest[len(STATE_NAMES):]
        hidden = self.decoder.step(x, state, memory, processed_memory, mask)
        mel = self.decoder.frames(hidden).flatten(1)  # [B, r * n_mels], as the runtime reads it
        gate = self.decoder.gate_projection(hidden).squeeze(1)
        return (mel, gate, *(getattr(state, name) for name in STATE_NAMES))


class PostnetGraph(nn.Module):
    def __init__(self, model: Tacotron2):
        super().__init__()
        self.postnet = model.postnet

    def forward(self, mel):
        return mel + self.postnet(mel)


class VocoderGraph(nn.Module):
    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, mel):
        return self.generator(mel).squeeze(1)


def _export(module: nn.Module, args: tuple, path: Path, input_names: list[str],
            output_names: list[str], dynamic_axes: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which needs the extra
        # onnxscript package; this one exports these graphs exactly and with dynamic axes.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(temporary), dynamo=False, opset_version=OPSET,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    temporary.replace(path)


def export_onnx(checkpoint: str | Path, out_dir: str | Path, vocoder: str | None = "default") -> Path:
    """Write the graphs and the manifest of `checkpoint` (file or run folder) to `out_dir`."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise UserError("ONNX export needs the onnx package: pip install 'tacotron[onnx]'") from None
    out_dir = Path(out_dir)
    loaded = load_acoustic(checkpoint, if_vocoder="export the acoustic model's checkpoint with "
                                                   "--vocoder pointing at this one")
    path, config, frontend, model = loaded.path, loaded.config, loaded.frontend, loaded.model
    chosen = load_vocoder(vocoder, config.audio)

    n_mels, symbols, batch = config.audio.n_mels, 7, 2
    text = torch.randint(1, len(frontend.symbols), (batch, symbols))
    lengths = torch.tensor([symbols, symbols - 2])
    encoder = EncoderGraph(model).eval()
    padded = {0: "batch", 1: "symbols"}
    encoder_inputs = {"text": text, "lengths": lengths}
    if loaded.speakers:
        encoder_inputs["speakers"] = torch.zeros(batch, dtype=torch.long)
    with torch.no_grad():
        memory, processed = encoder(*encoder_inputs.values())
    _export(encoder, tuple(encoder_inputs.values()), out_dir / "encoder.onnx", list(encoder_inputs),
            ["memory", "processed_memory"],
            {"text": padded, "memory": padded, "processed_memory": padded,
             **{name: {0: "batch"} for name in encoder_inputs if name != "text"}})

    decoder = model.decoder
    initial = decoder.initial_state(memory)
    masks = [torch.ones(batch, dim) for dim in config.model.prenet_dims]
    mask_names = [f"prenet_mask_{index}" for index in range(len(masks))]
    step_inputs = (torch.zeros(batch, n_mels), *masks,
                   *(getattr(initial, name) for name in STATE_NAMES), memory, processed,
                   torch.ones(batch, symbols, dtype=torch.bool))
    input_names = ["frame", *mask_names, *STATE_NAMES, "memory", "processed_memory", "mask"]
    output_names = ["mel", "gate", *(f"next_{name}" for name in STATE_NAMES)]
    axes = {name: {0: "batch"} for name in input_names + output_names}
    for name in ("weights", "weights_cumulative", "next_weights", "next_weights_cumulative", "mask"):
        axes[name] = {0: "batch", 1: "symbols"}
    axes["memory"] = axes["processed_memory"] = {0: "batch", 1: "symbols"}
    _export(DecoderStepGraph(model), step_inputs, out_dir / "decoder_step.onnx", input_names,
            output_names, axes)

    mel = torch.randn(batch, n_mels, 12)
    _export(PostnetGraph(model), (mel,), out_dir / "postnet.onnx", ["mel"], ["mel_postnet"],
            {"mel": {0: "batch", 2: "frames"}, "mel_postnet": {0: "batch", 2: "frames"}})
    files = {"encoder": "encoder.onnx", "decoder_step": "decoder_step.onnx",
             "postnet": "postnet.onnx"}
    if isinstance(chosen, HifiGanVocoder):
        _export(VocoderGraph(chosen.generator), (mel,), out_dir / "vocoder.onnx", ["mel"],
                ["waveform"], {"mel": {0: "batch", 2: "frames"}, "waveform": {0: "batch", 1: "samples"}})
        files["vocoder"] = "vocoder.onnx"
    else:
        (out_dir / "vocoder.onnx").unlink(missing_ok=True)

    manifest = {"format": FORMAT, "checkpoint": str(path.resolve()), "vocoder": chosen.name, "files": files,
                "voice": loaded.voice.manifest()}
    atomic_write_text(out_dir / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
    return out_dir / MANIFEST
