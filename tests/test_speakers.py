"""Many speakers in one model: the speaker column and speaker folders in `prepare`, the speaker
table of the model, the speaker list in checkpoints, synthesis by speaker name, the server's
speakers and the multi-speaker eSpeak corpus."""

import json

import numpy as np
import pytest
import torch

from tacotron.config import load_config
from tacotron.data.prepare import load_prepared, prepare
from tacotron.errors import UserError
from tacotron.inference import Synthesizer
from tacotron.model.tacotron2 import Tacotron2
from tacotron.training import checkpoint as ckpt
from tacotron.runs.acoustic import load_acoustic
from tacotron.text import get_frontend

from test_prepare import TEXTS, make_config, tone, write_wav

TINY = ["model.embedding_dim=16", "model.encoder_dim=16", "model.encoder_conv_layers=1",
        "model.attention_rnn_dim=24", "model.decoder_rnn_dim=24", "model.attention_dim=8",
        "model.location_filters=4", "model.prenet_dims=[16, 16]", "model.postnet_channels=8",
        "model.postnet_layers=2", "model.reduction_factor=3", "inference.max_retries=0",
        "inference.max_frames_per_symbol=2", "audio.griffin_lim_iters=2",
        "text.language=en", "text.input=characters"]
SPEAKERS = ["alice", "bob"]


def speaker_corpus(root, per_speaker=6):
    """LJSpeech layout with the fourth column: `per_speaker` utterances each of alice and bob
    (alice's 1.0 s long, bob's 1.5 s), and one line that names no speaker."""
    lines = []
    for index in range(2 * per_speaker):
        speaker = SPEAKERS[index % 2]
        seconds = 1.0 if speaker == "alice" else 1.5
        write_wav(root / "wavs" / f"u{index}.wav", tone(seconds=seconds + 0.01 * index, seed=index))
        text = TEXTS[index % len(TEXTS)]
        lines.append(f"u{index}|{text}|{text}|{speaker}")
    write_wav(root / "wavs" / "nobody.wav", tone(seed=99))
    lines.append("nobody|the cat sat here|the cat sat here")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def tiny_model(speaker_dim: int, n_speakers: int = 0):
    config = load_config("cpu-tiny", overrides=[*TINY, f"model.speaker_dim={speaker_dim}"])
    frontend = get_frontend("en", "characters")
    torch.manual_seed(0)
    return Tacotron2(config.model, len(frontend.symbols), config.audio.n_mels, n_speakers), config, frontend


def test_speaker_column_is_read_and_reported_per_speaker(tmp_path):
    data = prepare(speaker_corpus(tmp_path), make_config(), progress=False)
    utterances = data.train + data.val
    assert data.speakers == ["alice", "bob"]
    assert {u.id: u.speaker for u in utterances}["u1"] == "bob"
    # The line without a speaker cannot be used in a data set that names them.
    (problem,) = [p for p in data.problems if p.id == "nobody"]
    assert problem.action == "skipped" and problem.reason.startswith("no speaker")
    counts = data.speaker_minutes()
    assert counts["alice"][0] == counts["bob"][0] == 6
    assert counts["bob"][1] == pytest.approx(sum(1.5 + 0.01 * i for i in range(1, 12, 2)) / 60, rel=1e-3)
    summary = data.summary()
    assert "2 speakers" in summary and "alice: 6 utterances, 0.1 min" in summary
    info = json.loads((data.root / "prepared.json").read_text())
    assert info["speakers"]["bob"]["utterances"] == 6
    assert load_prepared(tmp_path).speakers == ["alice", "bob"]


def test_single_speaker_data_has_no_speakers(tmp_path):
    from test_prepare import make_corpus

    make_corpus(tmp_path)
    data = prepare(tmp_path, make_config(), progress=False)
    assert data.speakers == [] and "speakers" not in data.summary()


def test_speaker_folders(tmp_path):
    """VCTK style: SPEAKER/UTTERANCE.wav with SPEAKER/UTTERANCE.txt."""
    for index in range(4):
        write_wav(tmp_path / "p225" / f"p225_00{index}.wav", tone(seconds=1.0 + 0.05 * index, seed=index))
        (tmp_path / "p225" / f"p225_00{index}.txt").write_text(TEXTS[index] + "\n")
        write_wav(tmp_path / "anna" / f"{index}.wav", tone(seconds=1.1 + 0.05 * index, seed=10 + index))
        (tmp_path / "anna" / f"{index}.txt").write_text(TEXTS[index + 4])
    write_wav(tmp_path / "anna" / "9.wav", tone(seed=30))  # no transcript
    # Tones are no speech: no speaking-rate outlier check on them.
    data = prepare(tmp_path, make_config(cps_outlier_mads=1000.0), progress=False)
    ids = {u.id: u.speaker for u in data.train + data.val}
    assert ids == {**{f"p225_00{i}": "p225" for i in range(4)}, **{f"anna_{i}": "anna" for i in range(4)}}
    (problem,) = data.problems
    assert problem.id == "anna_9" and problem.reason.startswith("no transcript")


def test_speaker_dim_zero_keeps_the_single_speaker_model():
    single, config, _ = tiny_model(0)
    many, _, _ = tiny_model(8, n_speakers=3)
    single_shapes = {k: tuple(v.shape) for k, v in single.state_dict().items()}
    many_shapes = {k: tuple(v.shape) for k, v in many.state_dict().items()}
    assert not any("speaker" in key for key in single_shapes)
    assert set(many_shapes) - set(single_shapes) == {"speaker_embedding.weight"}
    assert many_shapes["speaker_embedding.weight"] == (3, 8)
    # Attention and decoder read the encoder output (16) plus the speaker vector (8).
    prenet = config.model.prenet_dims[-1]
    assert single_shapes["decoder.attention_rnn.weight_ih"][1] == prenet + 16
    assert many_shapes["decoder.attention_rnn.weight_ih"][1] == prenet + 16 + 8
    assert many_shapes["decoder.attention.memory_layer.weight"][1] == 16 + 8


def test_speaker_embedding_changes_the_output():
    model, _, frontend = tiny_model(8, n_speakers=2)
    model.eval()
    ids = torch.tensor([frontend.to_ids("hello there.")])
    lengths = torch.tensor([ids.size(1)])
    mels = torch.zeros(1, 80, 30)

    def run(speaker: int) -> torch.Tensor:
        torch.manual_seed(1)  # the prenet's dropout stays on: the same masks for every call
        return model(ids, lengths, mels, torch.tensor([30]), speakers=torch.tensor([speaker])).mel_postnet

    assert torch.equal(run(0), run(0))
    assert (run(0) - run(1)).abs().max() > 1e-4
    with pytest.raises(ValueError):
        model(ids, lengths, mels, torch.tensor([30]))  # a multi-speaker model needs speaker ids


def save_voice(folder, speakers: list[str]):
    model, config, frontend = tiny_model(8 if speakers else 0, len(speakers))
    state = {"model": model.state_dict(), "config": config.to_dict(),
             "symbols": list(frontend.symbols), "speakers": speakers, "step": 7}
    ckpt.save_checkpoint(folder, state, config.to_yaml(), keep_last=1)
    return folder


def test_checkpoint_round_trip_and_speaker_names(tmp_path):
    loaded = load_acoustic(save_voice(tmp_path / "many", ["m3", "f2", "f4"]))
    assert loaded.speakers == ["m3", "f2", "f4"]
    assert loaded.model.speaker_embedding.weight.shape == (3, 8)
    synthesizer = Synthesizer.from_checkpoint(tmp_path / "many", vocoder="griffin-lim")
    assert synthesizer.speaker_id("f4") == 2
    assert synthesizer.speaker_id() == 0  # the documented default: the first speaker
    with pytest.raises(UserError, match="no speaker 'zz' in this voice; its speakers: m3, f2, f4"):
        synthesizer.tts("Hello.", speaker="zz")
    low, _ = synthesizer.tts("Hello there.", speaker="m3")
    high, _ = synthesizer.tts("Hello there.", speaker="f2")
    assert low.shape != high.shape or not np.allclose(low, high)

    single = Synthesizer.from_checkpoint(save_voice(tmp_path / "one", []), vocoder="griffin-lim")
    assert single.speakers == [] and single.speaker_id() is None
    with pytest.raises(UserError, match="single speaker"):
        single.tts("Hello.", speaker="m3")


@pytest.mark.slow
def test_training_saves_the_speaker_list(tmp_path, fast_config):
    from tacotron.training.trainer import Trainer

    data = prepare(speaker_corpus(tmp_path / "data"), make_config(), progress=False)
    config = fast_config("model.speaker_dim=4", "train.max_steps=2", "train.val_every_steps=2",
                         "train.checkpoint_every_steps=2", "text.language=en", "text.input=characters")
    Trainer(config, data, tmp_path / "run", progress=False).fit()
    loaded = load_acoustic(tmp_path / "run")
    saved = torch.load(loaded.path, weights_only=False)  # the run's entry (resuming) and its voice manifest
    assert loaded.speakers == saved["speakers"] == saved["voice"]["speakers"] == ["alice", "bob"]
    single = fast_config("train.max_steps=1", "text.language=en", "text.input=characters")
    plain = Trainer(single, data, tmp_path / "plain", progress=False)
    plain.fit()
    assert not any("speaker" in key for key in plain.task.model.state_dict())  # speaker_dim 0: pooled


@pytest.mark.slow
def test_server_lists_and_takes_speakers(tmp_path):
    from test_serve import call, detail, running_server

    spec = f"many={save_voice(tmp_path / 'many', ['m3', 'f2'])}"
    with running_server([spec]) as url:
        _, _, body = call(url, "/api/voices")
        (voice,) = json.loads(body)["voices"]
        assert voice["speakers"] == ["m3", "f2"]
        status, headers, audio = call(url, "/api/tts", {"text": "Hello.", "speaker": "f2"})
        assert status == 200 and audio[:4] == b"RIFF"
        _, _, report = call(url, f"/api/requests/{headers['X-Request-Id']}")
        assert json.loads(report)["speaker"] == "f2"
        status, _, body = call(url, "/api/tts", {"text": "Hello.", "speaker": "zz"})
        assert status == 404 and "its speakers: m3, f2" in detail(body)


@pytest.mark.slow
def test_corpus_speakers_differ_in_pitch(tmp_path):
    from tacotron.audio.io import load_audio
    from tacotron.audio.pitch import mean_f0
    from tacotron.data.corpus import make_corpus

    corpus = make_corpus("en", tmp_path / "c", count=16, speakers=4, progress=False)
    rows = [line.split("|") for line in (corpus / "metadata.csv").read_text().splitlines()]
    assert {row[3] for row in rows} == {"m3-40", "f4-50", "m1-80", "f2-75"}
    f0: dict[str, list[float]] = {}
    for row in rows:
        waveform, _ = load_audio(corpus / "wavs" / f"{row[0]}.wav", 22050)
        f0.setdefault(row[3], []).append(mean_f0(waveform, 22050))
    means = sorted(float(np.mean(values)) for values in f0.values())
    # Measured: m3-40 ~93, m1-80 ~126, f4-50 ~178, f2-75 ~248 Hz; neighbours at least 15% apart.
    assert means[0] < 105 and means[-1] > 220
    assert all(b / a > 1.15 for a, b in zip(means, means[1:]))
    summary = json.loads((corpus / "corpus.json").read_text())
    assert summary["speakers"]["f2-75"] == {"voice": "espeak", "variant": "f2", "pitch": 75}
    data = prepare(corpus, load_config(overrides=["text.language=en"]), progress=False)
    assert data.speakers == ["f2-75", "f4-50", "m1-80", "m3-40"]


def test_synth_command_speaks_as_the_named_speaker(tmp_path, capsys):
    from tacotron.audio.io import load_audio
    from tacotron.cli import main

    voice = save_voice(tmp_path / "many", ["m3", "f2"])
    out = tmp_path / "f2.wav"
    assert main(["synth", "--checkpoint", str(voice), "--speaker", "f2", "--text", "Hi.", "--out", str(out),
                 "--vocoder", "griffin-lim"]) == 0
    assert len(load_audio(out, 22050)[0]) > 0
    code = main(["synth", "--checkpoint", str(voice), "--speaker", "zz", "--text", "Hi.", "--out", str(out),
                 "--vocoder", "griffin-lim"])
    err = capsys.readouterr().err
    assert code == 2 and "error: no speaker 'zz' in this voice; its speakers: m3, f2" in err
    assert "Traceback" not in err
