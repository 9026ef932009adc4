"""HiFi-GAN (Kong et al. 2020, "HiFi-GAN: Generative Adversarial Networks for Efficient and High
Fidelity Speech Synthesis"): a generator that upsamples a log-mel to a waveform with transposed
convolutions and multi-receptive-field fusion (MRF) residual blocks, a multi-period discriminator
(MPD) and a multi-scale discriminator (MSD), and the paper's losses.

Parameter names follow the official release (conv_pre, ups.N, resblocks.N.convs1.M / convs2.M,
conv_post, weight-normalised), so `load_official_generator` reads its `generator` checkpoints
together with the `config.json` they were trained with.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from tacotron.config import AudioConfig
from tacotron.errors import UserError

LRELU_SLOPE = 0.1  # every leaky ReLU of the paper, except the one before conv_post (torch's 0.01)
INIT_STD = 0.01  # normal(0, 0.01) initialisation of the weight-normalised convolutions


@dataclass
class GeneratorSpec:
    """The sizes of a generator, in the official config.json's terms (Kong et al. 2020, Table 6)."""

    upsample_rates: list[int]
    upsample_kernel_sizes: list[int]
    upsample_initial_channel: int
    resblock: str  # "1": two dilated convolutions per dilation, "2": one (the V3 block)
    resblock_kernel_sizes: list[int]
    resblock_dilation_sizes: list[list[int]]
    n_mels: int = 80

    @property
    def hop_length(self) -> int:
        """Samples per mel frame: the product of the upsampling rates."""
        product = 1
        for rate in self.upsample_rates:
            product *= rate
        return product

    def to_official(self) -> dict[str, Any]:
        data = asdict(self)
        data["num_mels"] = data.pop("n_mels")
        return data


# The paper's three generators. V3's dilations are those of the official config_v3.json.
GENERATOR_SIZES = {
    "v1": GeneratorSpec([8, 8, 2, 2], [16, 16, 4, 4], 512, "1", [3, 7, 11], [[1, 3, 5]] * 3),
    "v2": GeneratorSpec([8, 8, 2, 2], [16, 16, 4, 4], 128, "1", [3, 7, 11], [[1, 3, 5]] * 3),
    "v3": GeneratorSpec([8, 8, 4], [16, 16, 8], 256, "2", [3, 5, 7], [[1, 2], [2, 6], [3, 12]]),
}


def generator_spec(name: str, n_mels: int = 80) -> GeneratorSpec:
    if name not in GENERATOR_SIZES:
        raise UserError(f"unknown HiFi-GAN generator '{name}' (choose {', '.join(GENERATOR_SIZES)})")
    spec = GENERATOR_SIZES[name]
    return GeneratorSpec(**{**asdict(spec), "n_mels": n_mels})


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


def _init_normal(module: nn.Module) -> nn.Module:
    nn.init.normal_(module.weight, 0.0, INIT_STD)
    return module


def _same_length_convs(channels: int, kernel_size: int, dilations: list[int]) -> nn.ModuleList:
    """One weight-normed convolution per dilation, padded so the length is kept."""
    return nn.ModuleList(
        weight_norm(_init_normal(nn.Conv1d(channels, channels, kernel_size, dilation=d,
                                           padding=same_padding(kernel_size, d))))
        for d in dilations)


class ResBlock1(nn.Module):
    """For each dilation d: x <- x + conv_1(lrelu(conv_d(lrelu(x)))) (paper, Figure 1, MRF)."""

    def __init__(self, channels: int, kernel_size: int, dilations: list[int]):
        super().__init__()
        self.convs1 = _same_length_convs(channels, kernel_size, dilations)
        self.convs2 = _same_length_convs(channels, kernel_size, [1] * len(dilations))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, plain in zip(self.convs1, self.convs2):
            x = x + plain(F.leaky_relu(dilated(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """For each dilation d: x <- x + conv_d(lrelu(x)) (the lighter block of V3)."""

    def __init__(self, channels: int, kernel_size: int, dilations: list[int]):
        super().__init__()
        self.convs = _same_length_convs(channels, kernel_size, dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class Generator(nn.Module):
    """log-mel [B, n_mels, frames] -> waveform [B, 1, frames * hop_length] in [-1, 1]."""

    def __init__(self, spec: GeneratorSpec):
        super().__init__()
        if len(spec.upsample_rates) != len(spec.upsample_kernel_sizes):
            raise UserError("HiFi-GAN config: upsample_rates and upsample_kernel_sizes differ in length")
        if len(spec.resblock_kernel_sizes) != len(spec.resblock_dilation_sizes):
            raise UserError("HiFi-GAN config: resblock_kernel_sizes and resblock_dilation_sizes "
                            "differ in length")
        if spec.resblock not in ("1", "2"):
            raise UserError(f"HiFi-GAN config: resblock must be \"1\" or \"2\", got {spec.resblock!r}")
        self.spec = spec
        self.num_kernels = len(spec.resblock_kernel_sizes)
        channels = spec.upsample_initial_channel
        self.conv_pre = weight_norm(nn.Conv1d(spec.n_mels, channels, 7, padding=3))
        block = ResBlock1 if spec.resblock == "1" else ResBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for rate, kernel in zip(spec.upsample_rates, spec.upsample_kernel_sizes):
            # padding (k - u) / 2 makes each layer exactly u times longer.
            self.ups.append(weight_norm(_init_normal(nn.ConvTranspose1d(
                channels, channels // 2, kernel, rate, padding=(kernel - rate) // 2))))
            channels //= 2
            for size, dilations in zip(spec.resblock_kernel_sizes, spec.resblock_dilation_sizes):
                self.resblocks.append(block(channels, size, dilations))
        self.conv_post = weight_norm(_init_normal(nn.Conv1d(channels, 1, 7, padding=3)))

    @property
    def hop_length(self) -> int:
        return self.spec.hop_length

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for index, upsample in enumerate(self.ups):
            x = upsample(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[index * self.num_kernels:(index + 1) * self.num_kernels]
            # MRF: the mean of the residual blocks' outputs (kernel sizes k_r, dilations D_r).
            x = sum(block(x) for block in blocks) / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))

    def remove_weight_norm(self) -> "Generator":
        """Fold w = g * v / |v| into plain weights: same output, faster, exportable."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        return self


# ---------------------------------------------------------------------------- discriminators
class PeriodDiscriminator(nn.Module):
    """Looks at every p-th sample: the waveform reshaped to [T/p, p], 2-D convolutions with
    kernels (5, 1) so each column (phase of the period) is judged on its own."""

    def __init__(self, period: int):
        super().__init__()
        self.period = period
        sizes = [1, 32, 128, 512, 1024]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(a, b, (5, 1), (3, 1), padding=(same_padding(5), 0)))
            for a, b in zip(sizes, sizes[1:]))
        self.convs.append(weight_norm(nn.Conv2d(1024, 1024, (5, 1), 1, padding=(2, 0))))
        self.conv_post = weight_norm(nn.Conv2d(1024, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, length = x.shape
        if length % self.period:
            pad = self.period - length % self.period
            x = F.pad(x, (0, pad), mode="reflect")
            length += pad
        x = x.view(batch, channels, length // self.period, self.period)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            features.append(x)
        x = self.conv_post(x)
        features.append(x)
        return x.flatten(1), features


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11)):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p) for p in periods)

    def forward(self, waveform: torch.Tensor):
        """[B, 1, T] -> (scores per sub-discriminator, feature maps per sub-discriminator)."""
        outputs = [d(waveform) for d in self.discriminators]
        return [score for score, _ in outputs], [features for _, features in outputs]


class ScaleDiscriminator(nn.Module):
    """Grouped strided 1-D convolutions over the waveform (MelGAN's discriminator)."""

    def __init__(self, use_spectral_norm: bool = False):
        super().__init__()
        norm = spectral_norm if use_spectral_norm else weight_norm
        layers = [  # (in, out, kernel, stride, groups, padding)
            (1, 128, 15, 1, 1, 7), (128, 128, 41, 2, 4, 20), (128, 256, 41, 2, 16, 20),
            (256, 512, 41, 4, 16, 20), (512, 1024, 41, 4, 16, 20), (1024, 1024, 41, 1, 16, 20),
            (1024, 1024, 5, 1, 1, 2)]
        self.convs = nn.ModuleList(norm(nn.Conv1d(a, b, k, s, groups=g, padding=p))
                                   for a, b, k, s, g, p in layers)
        self.conv_post = norm(nn.Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            features.append(x)
        x = self.conv_post(x)
        features.append(x)
        return x.flatten(1), features


class MultiScaleDiscriminator(nn.Module):
    """Three scale discriminators on the raw, x2 and x4 average-pooled waveform; the first uses
    spectral normalisation, the others weight normalisation (paper, section 2.3)."""

    def __init__(self, scales: int = 3):
        super().__init__()
        self.discriminators = nn.ModuleList(ScaleDiscriminator(use_spectral_norm=index == 0)
                                            for index in range(scales))
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, waveform: torch.Tensor):
        scores, features = [], []
        x = waveform
        for index, discriminator in enumerate(self.discriminators):
            if index > 0:
                x = self.pool(x)
            score, maps = discriminator(x)
            scores.append(score)
            features.append(maps)
        return scores, features


# ---------------------------------------------------------------------------- losses
def discriminator_loss(real_scores: list[torch.Tensor], fake_scores: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN discriminator loss (paper, eq. 1): sum_k E[(D_k(x) - 1)^2] + E[D_k(G(s))^2]."""
    return sum(torch.mean((1 - real) ** 2) + torch.mean(fake ** 2)
               for real, fake in zip(real_scores, fake_scores))


def generator_adversarial_loss(fake_scores: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN generator loss (paper, eq. 2): sum_k E[(D_k(G(s)) - 1)^2]."""
    return sum(torch.mean((1 - fake) ** 2) for fake in fake_scores)


def feature_matching_loss(real_features: list[list[torch.Tensor]],
                          fake_features: list[list[torch.Tensor]]) -> torch.Tensor:
    """Feature matching (paper, eq. 4): sum_k sum_i E[|D_k^i(x) - D_k^i(G(s))|_1 / N_i], the mean
    absolute difference of every intermediate feature map (real ones are constants)."""
    return sum(torch.mean(torch.abs(real.detach() - fake))
               for real_maps, fake_maps in zip(real_features, fake_features)
               for real, fake in zip(real_maps, fake_maps))


# ---------------------------------------------------------------------------- official format
WEIGHT_NORM_NAMES = {  # official (torch.nn.utils.weight_norm) -> torch parametrizations
    "weight_g": "parametrizations.weight.original0",
    "weight_v": "parametrizations.weight.original1",
}


def to_official_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our generator state dict -> the official parameter names (weight_g / weight_v)."""
    renamed = {}
    for key, value in state.items():
        for official, ours in WEIGHT_NORM_NAMES.items():
            if key.endswith("." + ours):
                key = key[: -len(ours)] + official
        renamed[key] = value
    return renamed


def from_official_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state.items():
        prefix, _, last = key.rpartition(".")
        renamed[f"{prefix}.{WEIGHT_NORM_NAMES[last]}" if last in WEIGHT_NORM_NAMES else key] = value
    return renamed


@dataclass
class OfficialGenerator:
    generator: Generator
    spec: GeneratorSpec
    audio: AudioConfig  # the mel settings the generator was trained on
    path: Path


def spec_from_official_config(config: dict[str, Any], source: str) -> tuple[GeneratorSpec, AudioConfig]:
    """The generator sizes and mel settings of an official HiFi-GAN config.json."""
    try:
        spec = GeneratorSpec(
            upsample_rates=[int(v) for v in config["upsample_rates"]],
            upsample_kernel_sizes=[int(v) for v in config["upsample_kernel_sizes"]],
            upsample_initial_channel=int(config["upsample_initial_channel"]),
            resblock=str(config["resblock"]),
            resblock_kernel_sizes=[int(v) for v in config["resblock_kernel_sizes"]],
            resblock_dilation_sizes=[[int(d) for d in ds] for ds in config["resblock_dilation_sizes"]],
            n_mels=int(config.get("num_mels", 80)))
        audio = AudioConfig(
            sample_rate=int(config["sampling_rate"]), n_fft=int(config["n_fft"]),
            hop_length=int(config["hop_size"]), win_length=int(config["win_size"]),
            n_mels=spec.n_mels, fmin=float(config["fmin"]), fmax=float(config["fmax"]))
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{source}: not a HiFi-GAN config.json ({type(error).__name__}: {error})") from None
    if spec.hop_length != audio.hop_length:
        raise UserError(f"{source}: upsample_rates multiply to {spec.hop_length} but hop_size is "
                        f"{audio.hop_length}")
    return spec, audio


def save_official_generator(generator: Generator, audio: AudioConfig, folder: str | Path,
                            name: str = "generator.pth") -> Path:
    """Write `folder/name` ({"generator": state dict, official names}) and `folder/config.json`."""
    from tacotron.files import atomic_write, atomic_write_text

    folder = Path(folder)
    state = to_official_state(generator.state_dict())
    atomic_write(folder / name, lambda handle: torch.save({"generator": state}, handle))
    config = {**generator.spec.to_official(), "sampling_rate": audio.sample_rate,
              "n_fft": audio.n_fft, "hop_size": audio.hop_length, "win_size": audio.win_length,
              "fmin": audio.fmin, "fmax": audio.fmax}
    atomic_write_text(folder / "config.json", json.dumps(config, indent=2) + "\n")
    return folder / name


def find_official_files(path: str | Path, config_json: str | Path | None = None) -> tuple[Path, Path]:
    """(generator checkpoint, config.json) from a checkpoint file or a folder holding one."""
    path = Path(path)
    if path.is_dir():
        candidates = sorted(p for p in path.iterdir()
                            if p.is_file() and p.name != "config.json" and not p.name.startswith(".")
                            and (p.name.startswith(("g_", "generator")) or p.suffix in (".pth", ".pt", ".tar")))
        if len(candidates) != 1:
            raise UserError(f"{path}: expected one generator checkpoint (g_* or generator*) beside "
                            f"config.json, found {len(candidates)}")
        config_path = Path(config_json) if config_json else path / "config.json"
        path = candidates[0]
    else:
        if not path.is_file():
            raise UserError(f"vocoder checkpoint not found: {path}")
        config_path = Path(config_json) if config_json else path.parent / "config.json"
    if not config_path.is_file():
        raise UserError(f"{path}: the HiFi-GAN config.json of this generator is missing "
                        f"(looked for {config_path})")
    return path, config_path


def load_official_generator(path_or_dir: str | Path, config_json: str | Path | None = None,
                            map_location: str | torch.device = "cpu") -> OfficialGenerator:
    """An official HiFi-GAN generator checkpoint ({"generator": state dict}) and the config.json of
    its release (beside it unless given) as our `Generator`, with weight norm still in place.
    Every parameter must match: a missing or unexpected key is an error naming it."""
    checkpoint_path, config_path = find_official_files(path_or_dir, config_json)
    try:
        state = torch.load(checkpoint_path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise UserError(f"{checkpoint_path}: not a readable torch checkpoint ({error})") from None
    return official_generator_from_state(state, checkpoint_path, config_path)


def official_generator_from_state(state: Any, checkpoint_path: Path, config_path: Path) -> OfficialGenerator:
    """`load_official_generator` for a checkpoint already read (`state` = torch.load of it)."""
    try:
        config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{config_path}: unreadable JSON ({error})") from None
    spec, audio = spec_from_official_config(config, str(config_path))
    if not isinstance(state, dict) or "generator" not in state:
        raise UserError(f"{checkpoint_path}: not a HiFi-GAN generator checkpoint (no 'generator' key)")
    generator = Generator(spec)
    try:
        result = generator.load_state_dict(from_official_state(state["generator"]), strict=False)
    except RuntimeError as error:  # a parameter of the wrong shape
        raise UserError(f"{checkpoint_path}: does not fit the generator of {Path(config_path).name}: "
                        f"{str(error).splitlines()[-1].strip()}") from None
    problems = [f"missing {key}" for key in to_official_state(dict.fromkeys(result.missing_keys))]
    problems += [f"unexpected {key}" for key in to_official_state(dict.fromkeys(result.unexpected_keys))]
    if problems:
        shown = ", ".join(problems[:4]) + (f" and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise UserError(f"{checkpoint_path}: does not fit the generator of {Path(config_path).name}: "
                        f"{shown}")
    return OfficialGenerator(generator, spec, audio, Path(checkpoint_path))
