"""Synthesis with onnxruntime over the graphs of `tacotron export` (inference/onnx_export.py).

`OnnxTacotron` stands in for `Tacotron2` inside the one `Synthesizer`, so text splitting, quality
control with retries, joining and post-processing are the PyTorch path's; only `infer` differs:
the decoder loop runs here in Python over the one-step graph, mirroring `Decoder.infer` (stop
rule, length cap, attention window). Prenet dropout masks are drawn from torch's generator in
the order F.dropout draws them, so a seeded synthesis gives the PyTorch path's masks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from tacotron.config import Config
from tacotron.errors import UserError
from tacotron.inference.onnx_export import FORMAT, MANIFEST, STATE_NAMES
from tacotron.inference.synthesizer import Synthesizer
from tacotron.inference.vocoder import Vocoder, load_vocoder
from tacotron.model.tacotron2 import TacotronOutput, lengths_to_mask, stop_threshold
from tacotron.runs.voice import make_voice, read_voice

# An export written before the voice manifest: its run config and voice entries (symbols, speakers,
# frames_per_symbol, step) at the top, read as a checkpoint saved before manifests is.
FORMAT_BEFORE_VOICE = "tacotron-onnx-1"


def session(path: Path, threads: int | None = None):
    """An onnxruntime CPU session. Its threads do not spin-wait between runs: the synthesis loop
    runs torch ops between them, and spinning threads of two pools on the same cores starve each
    other (measured on 2 threads, 8 sentences: the ONNX decoder loop took 0.24-0.28 s spinning,
    0.11 s not)."""
    try:
        import onnxruntime
    except ImportError:
        raise UserError("the ONNX runtime needs onnxruntime: pip install 'tacotron[onnx]'") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def read_manifest(folder: str | Path) -> dict:
    """The export's manifest, its voice manifest under "voice" whatever the export's format."""
    folder = Path(folder)
    path = folder / MANIFEST if folder.is_dir() else folder
    if not path.is_file():
        raise UserError(f"{folder}: not an ONNX export ({MANIFEST} missing); make one with "
                        f"`tacotron export --checkpoint CK --format onnx --out {folder}`")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") == FORMAT_BEFORE_VOICE:
        return {**manifest, "voice": make_voice(manifest["config"], manifest)}
    if manifest.get("format") != FORMAT:
        raise UserError(f"{path}: unknown export format {manifest.get('format')!r} (one of a newer "
                        "tacotron? upgrade tacotron to load it)")
    return manifest


class OnnxTacotron:
    """The `Tacotron2.infer` of an exported model, on onnxruntime."""

    def __init__(self, folder: str | Path, files: dict[str, str], config: Config, threads: int | None = None):
        folder = Path(folder)
        self.encoder = session(folder / files["encoder"], threads)
        # One decoder step is a few small matrix products: splitting them over threads costs more
        # in synchronisation than it gains (0.092 s on 1 thread against 0.113 s on 2, as above).
        self.step_graph = session(folder / files["decoder_step"], 1)
        self.postnet = session(folder / files["postnet"], threads)
        self.model_config = config.model
        self.n_mels = config.audio.n_mels
        self.reduction_factor = config.model.reduction_factor

    def to(self, device) -> "OnnxTacotron":
        if torch.device(device).type != "cpu":
            raise UserError("the ONNX runtime path runs on the CPU")
        return self

    def eval(self) -> "OnnxTacotron":
        return self

    def infer(self, text, text_lengths, max_frames: torch.Tensor, gate_threshold: float,
              gate_threshold_start: float | None = None,
              attention_window: tuple[int, int] | None = None,
              speakers: torch.Tensor | None = None) -> TacotronOutput:
        """As `Tacotron2.infer` / `Decoder.infer` (same stop rule, cap and window; `speakers` [B]
        ids exactly when the model has a speaker table)."""
        text, text_lengths, max_frames = text.cpu(), text_lengths.cpu(), max_frames.cpu()
        config, r = self.model_config, self.reduction_factor
        inputs = {"text": text.numpy().astype(np.int64), "lengths": text_lengths.numpy().astype(np.int64)}
        if speakers is not None:
            inputs["speakers"] = speakers.cpu().numpy().astype(np.int64)
        memory, processed = self.encoder.run(None, inputs)
        batch, symbols = text.shape
        text_mask = lengths_to_mask(text_lengths, symbols)
        max_steps = torch.div(max_frames + r - 1, r, rounding_mode="floor").clamp(min=1)
        states = {
            "attention_hidden": np.zeros((batch, config.attention_rnn_dim), np.float32),
            "attention_cell": np.zeros((batch, config.attention_rnn_dim), np.float32),
            "decoder_hidden": np.zeros((batch, config.decoder_rnn_dim), np.float32),
            "decoder_cell": np.zeros((batch, config.decoder_rnn_dim), np.float32),
            "weights": np.zeros((batch, symbols), np.float32),
            "weights_cumulative": np.zeros((batch, symbols), np.float32),
            "context": np.zeros((batch, memory.shape[2]), np.float32),  # encoder_dim (+ speaker_dim)
        }
        keep = 1.0 - config.prenet_dropout
        positions = torch.arange(symbols)[None, :]
        last_symbol = (text_mask.sum(dim=1) - 1).clamp(min=1)
        frame = np.zeros((batch, self.n_mels), np.float32)
        finished = torch.zeros(batch, dtype=torch.bool)
        stopped_by_gate = torch.zeros_like(finished)
        lengths = torch.zeros(batch, dtype=torch.long)
        mels, gates, alignments = [], [], []
        for _ in range(int(max_steps.max())):
            mask = text_mask
            if attention_window is not None:
                peak = torch.from_numpy(states["weights"]).argmax(dim=1, keepdim=True)
                backward, forward = attention_window
                mask = text_mask & (positions >= peak - backward) & (positions <= peak + forward)
            feed = {"frame": frame, "memory": memory, "processed_memory": processed,
                    "mask": mask.numpy(), **states}
            for index, dim in enumerate(config.prenet_dims):
                # F.dropout(x, p, True) = x * bernoulli(1 - p) / (1 - p), drawn in this order.
                feed[f"prenet_mask_{index}"] = (torch.empty(batch, dim).bernoulli_(keep) / keep).numpy()
            mel, gate, *new_states = self.step_graph.run(None, feed)
            states = dict(zip(STATE_NAMES, new_states))
            mel = mel.reshape(batch, r, self.n_mels)
            mels.append(mel)
            gates.append(gate)
            alignments.append(states["weights"])
            frame = mel[:, -1]
            lengths = torch.where(finished, lengths, lengths + 1)
            progress = torch.from_numpy(states["weights"]).argmax(dim=1) / last_symbol
            threshold = stop_threshold(progress, gate_threshold, gate_threshold_start)
            gate_fired = torch.sigmoid(torch.from_numpy(gate)) > threshold
            stopped_by_gate |= gate_fired & ~finished
            finished |= gate_fired | (lengths >= max_steps)
            if bool(finished.all()):
                break
        mel = np.ascontiguousarray(np.concatenate(mels, axis=1).transpose(0, 2, 1))
        (mel_postnet,) = self.postnet.run(None, {"mel": mel})
        return TacotronOutput(torch.from_numpy(mel), torch.from_numpy(mel_postnet),
                              torch.from_numpy(np.stack(gates, axis=1)),
                              torch.from_numpy(np.stack(alignments, axis=1)), lengths * r,
                              stopped_by_gate)


class OnnxVocoder(Vocoder):
    def __init__(self, path: Path, audio, name: str, threads: int | None = None):
        super().__init__(audio)
        self.session = session(path, threads)
        self.name = f"{name} (onnx)"

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        mel = np.ascontiguousarray(mel, dtype=np.float32)[None]
        return self.session.run(None, {"mel": mel})[0][0]


def onnx_synthesizer(folder: str | Path, overrides: list[str] | None = None,
                     vocoder: str | Path | Vocoder | None = None,
                     threads: int | None = None) -> Synthesizer:
    """The Synthesizer of an export folder. `vocoder` None: the exported one (vocoder.onnx, or
    Griffin-Lim when the export has none); anything else as in `load_vocoder` (in PyTorch)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    folder = folder if folder.is_dir() else folder.parent
    voice = read_voice(manifest["voice"], folder / MANIFEST, overrides)
    config, frontend = voice.config, voice.frontend(folder)
    if vocoder is None:
        if "vocoder" in manifest["files"]:
            vocoder = OnnxVocoder(folder / manifest["files"]["vocoder"], config.audio,
                                  manifest["vocoder"], threads)
        else:
            vocoder = "griffin-lim"
    if not isinstance(vocoder, Vocoder):
        vocoder = load_vocoder(vocoder, config.audio)
    synthesizer = Synthesizer(OnnxTacotron(folder, manifest["files"], config, threads), config, frontend,
                              "cpu", voice.speaking_rate, vocoder, voice.speakers)
    synthesizer.checkpoint_step = voice.step
    return synthesizer
