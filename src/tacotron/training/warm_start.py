"""Warm start: a new run's first weights from a trained Tacotron 2 (`train.init_from`,
`tacotron train --init-from SOURCE`), and freezing modules for the first steps (`train.freeze`).

SOURCE is a run folder or checkpoint of this project (read by `runs.acoustic.load_acoustic`), or a
Tacotron 2 checkpoint in NVIDIA's published layout (`tacotron2_statedict.pt`: {"state_dict": ...}
with the module names of github.com/NVIDIA/tacotron2 model.py, r = 1, its 148-symbol English set).
NVIDIA's names are renamed to ours (`NVIDIA_RENAMES`); then every tensor of this model is:

    kept            copied from the source (same name, same shape)
    rows copied     the symbol embedding: rows of the symbols both symbol sets hold are copied,
                    the others keep their fresh initialisation
    re-initialised  not in the source, or matched by `train.init_ignore`
and every source tensor this model has no place for is `ignored`. A tensor whose shape differs is a
UserError naming the layer and both shapes. The per-layer table is printed and written as one
`warm_start` event. A resumed run loads its own checkpoint instead (the table is not repeated).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tacotron.errors import UserError
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.acoustic import load_acoustic, load_voice

EMBEDDING = "embedding.weight"
SPEAKER_EMBEDDING = "speaker_embedding.weight"
# Tables whose rows are matched by name (symbols, speakers), so their first dimension may differ.
ROW_TABLES = (EMBEDDING, SPEAKER_EMBEDDING)
# What a fine-tuned model takes from its source unless the command line sets it (`inherit_source_shape`).
INHERITED_SECTIONS = ("model", "audio")

# NVIDIA's text/symbols.py (keithito/tacotron): pad, special, punctuation, letters, then the 84
# ARPAbet symbols of text/cmudict.py prefixed with '@'.
_NVIDIA_ARPABET = (
    "AA AA0 AA1 AA2 AE AE0 AE1 AE2 AH AH0 AH1 AH2 AO AO0 AO1 AO2 AW AW0 AW1 AW2 AY AY0 AY1 AY2 "
    "B CH D DH EH EH0 EH1 EH2 ER ER0 ER1 ER2 EY EY0 EY1 EY2 F G HH IH IH0 IH1 IH2 IY IY0 IY1 "
    "IY2 JH K L M N NG OW OW0 OW1 OW2 OY OY0 OY1 OY2 P R S SH T TH UH UH0 UH1 UH2 UW UW0 UW1 "
    "UW2 V W Y Z ZH").split()
NVIDIA_SYMBOLS = ("_", "-", *"!'(),.:;? ",
                  *"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                  *("@" + s for s in _NVIDIA_ARPABET))

# NVIDIA's module names -> ours (their LinearNorm/ConvNorm wrap the layer as .linear_layer/.conv;
# the attention's location layer is a module of its own there).
NVIDIA_RENAMES = [
    (r"^(encoder|postnet)\.convolutions\.(\d+)\.0\.conv\.", r"\1.convolutions.\2.0."),
    (r"^decoder\.prenet\.layers\.(\d+)\.linear_layer\.", r"decoder.prenet.layers.\1."),
    (r"^decoder\.attention_layer\.(query_layer|memory_layer|v)\.linear_layer\.",
     r"decoder.attention.\1."),
    (r"^decoder\.attention_layer\.location_layer\.location_conv\.conv\.",
     "decoder.attention.location_conv."),
    (r"^decoder\.attention_layer\.location_layer\.location_dense\.linear_layer\.",
     "decoder.attention.location_layer."),
    (r"^decoder\.linear_projection\.linear_layer\.", "decoder.mel_projection."),
    (r"^decoder\.gate_layer\.linear_layer\.", "decoder.gate_projection."),
    (r"^postnet\.convolutions\.", "postnet.layers."),
]


def nvidia_to_ours(name: str) -> str:
    for pattern, replacement in NVIDIA_RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


@dataclass
class SourceWeights:
    """A warm-start source: its tensors under this project's names, and its symbol set."""

    path: Path
    layout: str  # "tacotron" (this project) | "nvidia"
    tensors: dict[str, torch.Tensor]
    symbols: list[str]
    names: dict[str, str]  # our name -> the name in the file
    speakers: list[str] = field(default_factory=list)  # the source's speaker table, in row order


def is_nvidia_layout(state: Any) -> bool:
    return isinstance(state, dict) and isinstance(state.get("state_dict"), dict) \
        and "model" not in state


def read_source(source: str | Path) -> SourceWeights:
    """A run folder or checkpoint of this project, or an NVIDIA-layout `tacotron2_statedict.pt`."""
    path = ckpt.resolve_checkpoint(source)
    state = ckpt.read_torch_file(path)  # read once: NVIDIA's layout, or handed to load_acoustic
    if is_nvidia_layout(state):
        tensors = {nvidia_to_ours(name): tensor for name, tensor in state["state_dict"].items()}
        names = {nvidia_to_ours(name): name for name in state["state_dict"]}
        projection = tensors.get("decoder.mel_projection.weight")
        if projection is not None:  # NVIDIA's decoder reads and writes raw log-mels: identity statistics
            n_mels = projection.shape[0]  # its r is 1
            tensors["decoder.mel_mean"], tensors["decoder.mel_std"] = torch.zeros(n_mels), torch.ones(n_mels)
            names.update({"decoder.mel_mean": "(identity)", "decoder.mel_std": "(identity)"})
        return SourceWeights(path, "nvidia", tensors, list(NVIDIA_SYMBOLS), names)
    acoustic = load_acoustic(path, if_vocoder="--init-from needs a Tacotron 2 checkpoint", state=state)
    tensors = acoustic.model.state_dict()
    return SourceWeights(path, "tacotron", tensors, list(acoustic.frontend.symbols),
                         {name: name for name in tensors}, acoustic.speakers)


@dataclass
class WarmStartReport:
    source: str
    layout: str
    rows: list[dict[str, str]] = field(default_factory=list)  # layer, status, shape, detail
    symbols_copied: int = 0
    symbols_total: int = 0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    def table(self) -> str:
        """The one table of what happened to every layer (printed at the start of the run)."""
        header = {"layer": "layer", "status": "status", "shape": "shape", "detail": "detail"}
        widths = {key: max(len(row[key]) for row in [header, *self.rows]) for key in header}
        lines = [f"warm start from {self.source} ({self.layout} layout): "
                 f"{self.symbols_copied} of {self.symbols_total} symbol embeddings copied"]
        for row in [header, *self.rows]:
            lines.append("  ".join(row[key].ljust(widths[key]) for key in header).rstrip())
        return "\n".join(lines)

    def event_fields(self) -> dict[str, Any]:
        return {"source": self.source, "layout": self.layout, "symbols_copied": self.symbols_copied,
                "symbols_total": self.symbols_total, **self.counts(), "layers": self.rows}


def ignored_by(name: str, patterns: list[str]) -> str | None:
    """The first `train.init_ignore` pattern matching tensor `name`: a glob on the name or on the
    module above it (`decoder.mel_projection` matches `decoder.mel_projection.weight`)."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern + ".*"):
            return pattern
    return None


def _layer(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _shape(tensor: torch.Tensor) -> str:
    return "x".join(str(size) for size in tensor.shape) or "scalar"


def warm_start(model: nn.Module, symbols: list[str] | tuple[str, ...], source: str | Path,
               ignore: list[str] | None = None, speakers: list[str] | None = None) -> WarmStartReport:
    """Copy `source`'s weights into `model` (whose symbol set is `symbols`, speaker table `speakers`)
    by name and shape; returns the per-layer report. Shapes that cannot fit: UserError naming layer
    and shapes."""
    speakers = list(speakers or [])
    weights = read_source(source)
    ignore = list(ignore or [])
    target = model.state_dict()
    mismatched = [
        f"{weights.names[name]} {tuple(weights.tensors[name].shape)} in the checkpoint, "
        f"{name} {tuple(tensor.shape)} in this model"
        for name, tensor in target.items()
        if name in weights.tensors and not ignored_by(name, ignore)
        and (weights.tensors[name].shape[1:] if name in ROW_TABLES else weights.tensors[name].shape)
        != (tensor.shape[1:] if name in ROW_TABLES else tensor.shape)]
    if mismatched:
        raise UserError(f"--init-from {weights.path}: shapes that cannot fit (a model config "
                        f"that differs; leave such layers out with --init-ignore LAYER): "
                        + "; ".join(mismatched))
    report = WarmStartReport(str(weights.path), weights.layout, symbols_total=len(symbols))
    per_layer: dict[str, dict[str, str]] = {}
    new_state = {}
    for name, tensor in target.items():
        pattern = ignored_by(name, ignore)
        if pattern is not None:
            status, detail = "re-initialised", f"--init-ignore {pattern}"
        elif name not in weights.tensors:
            status, detail = "re-initialised", "not in the source"
        elif name == EMBEDDING:
            copied = copy_symbol_rows(tensor, weights.tensors[name], list(symbols), weights.symbols)
            new_state[name] = copied[0]
            report.symbols_copied = copied[1]
            status, detail = "rows copied", f"{copied[1]}/{len(symbols)} symbols shared"
        elif name == SPEAKER_EMBEDDING:
            new_state[name], shared = speaker_rows(weights.tensors[name], speakers, weights.speakers)
            status, detail = "rows copied", (f"{shared}/{len(speakers)} speakers shared; "
                                             "the others start from the mean speaker")
        else:
            new_state[name] = weights.tensors[name]
            status, detail = "kept", ""
        row = per_layer.setdefault(_layer(name), {"layer": _layer(name), "status": status,
                                                  "shape": _shape(tensor), "detail": detail})
        if row["status"] != status:  # tensors of one layer fare differently: say so
            row["status"], row["detail"] = "partly kept", f"{row['detail']} {detail}".strip()
    for name in weights.tensors:
        if name not in target:
            layer = "source: " + _layer(weights.names[name])
            per_layer.setdefault(layer, {"layer": layer, "status": "ignored",
                                         "shape": _shape(weights.tensors[name]),
                                         "detail": "no such layer in this model"})
    model.load_state_dict(new_state, strict=False)
    report.rows = list(per_layer.values())
    return report


def copy_symbol_rows(fresh: torch.Tensor, trained: torch.Tensor, symbols: list[str],
                     source_symbols: list[str]) -> tuple[torch.Tensor, int]:
    """The embedding for `symbols`: the trained row of every symbol the source set also holds
    (the same character or name), the fresh row of the others; and how many were copied."""
    rows = fresh.clone()
    source_index = {symbol: index for index, symbol in enumerate(source_symbols)}
    copied = 0
    for index, symbol in enumerate(symbols):
        if symbol in source_index:
            rows[index] = trained[source_index[symbol]]
            copied += 1
    return rows, copied


def speaker_rows(trained: torch.Tensor, speakers: list[str], source_speakers: list[str]) -> tuple[torch.Tensor, int]:
    """The speaker table for `speakers`: the trained row of each speaker the source also has (by name),
    the mean of the source's rows for a new one (a voice between the ones it knows); and how many were
    shared."""
    source_index = {name: index for index, name in enumerate(source_speakers)}
    mean = trained.mean(dim=0)
    rows = torch.stack([trained[source_index[name]] if name in source_index else mean for name in speakers])
    return rows, sum(name in source_index for name in speakers)


def init_from_setting(source: str) -> str:
    """`train.init_from` for SOURCE: a path is saved absolute (the run may resume from another folder),
    a base voice's name stays a name."""
    return str(Path(source).resolve()) if Path(source).exists() else source


def inherit_source_shape(config, explicit: list[str]) -> list[str]:
    """A fine-tuned model takes its shape from its source: `config`'s model and audio sections become
    the source checkpoint's (train.init_from), except the keys in `explicit` (`section.key=value` the
    user gave). Returns the keys that changed. The source's voice manifest (runs/voice.py) says its
    shape; NVIDIA-layout sources carry none: nothing changes."""
    from tacotron.config import apply_overrides  # config is read here only

    path = ckpt.resolve_checkpoint(config.train.init_from)
    state = ckpt.read_torch_file(path)
    if is_nvidia_layout(state):
        return []
    source = load_voice(path, if_vocoder="--init-from needs a Tacotron 2 checkpoint", state=state).config
    changed = []
    for section in INHERITED_SECTIONS:
        mine, theirs = getattr(config, section), getattr(source, section)
        for key, value in vars(theirs).items():
            if getattr(mine, key) != value:
                changed.append(f"{section}.{key}")
        setattr(config, section, theirs)
    given = [item for item in explicit if item.split("=", 1)[0].strip().split(".")[0] in INHERITED_SECTIONS]
    apply_overrides(config, given)
    kept = {item.split("=", 1)[0].strip() for item in given}
    return [key for key in changed if key not in kept]


# ------------------------------------------------------------------ freezing
def frozen_parameters(model: nn.Module, modules: list[str]) -> list[nn.Parameter]:
    """The parameters of the `train.freeze` modules (names of model submodules: embedding,
    encoder, decoder, decoder.attention, postnet, ...); an unknown name is a UserError."""
    known = dict(model.named_modules())
    unknown = [name for name in modules if name not in known or not name]
    if unknown:
        choices = ", ".join(name for name, _ in model.named_children())
        raise UserError(f"train.freeze: no module {', '.join(unknown)} in the model "
                        f"(modules: {choices}, or a dotted submodule such as decoder.attention)")
    return [p for name in modules for p in known[name].parameters()]


def drop_frozen_gradients(parameters: list[nn.Parameter], step: int, freeze_steps: int) -> None:
    """Before the optimizer step: frozen parameters lose their gradient, so Adam leaves them (and
    their moments) untouched. Gradients are still computed (the same under DDP); `freeze_steps`
    0 freezes for the whole run."""
    if freeze_steps and step >= freeze_steps:
        return
    for parameter in parameters:
        parameter.grad = None
