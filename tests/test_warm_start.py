"""Warm start (training/warm_start.py): NVIDIA's published layout, symbol-set transfer, shapes that
cannot fit, freezing, and a run warm-started from its own checkpoint starting where it ended."""

import json
import subprocess
import sys

import pytest
import torch

from tacotron.config import Config, load_config
from tacotron.errors import UserError
from tacotron.model.tacotron2 import Tacotron2
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.events import read_events
from tacotron.text.symbols import ENGLISH_SYMBOLS
from tacotron.training.warm_start import (NVIDIA_SYMBOLS, drop_frozen_gradients,
                                          frozen_parameters, warm_start)

from support.overrides import FAST_OVERRIDES


def nvidia_published_layout() -> list[tuple[str, str, tuple[int, ...]]]:
    """(NVIDIA's name, ours, shape) of every tensor of tacotron2_statedict.pt, written out from
    NVIDIA/tacotron2 hparams.py (symbols 148, embedding 512, encoder 3 x conv 5 of 512, BiLSTM
    2 x 256, prenet 256-256, attention RNN 1024, attention 128, location 32 filters of 31,
    decoder RNN 1024, r = 1, postnet 5 x conv 5 of 512) and model.py's module names. Ours are
    listed by hand here, not derived from the loader's renaming rules, so the test checks them."""
    batch_norm = [("weight", 1), ("bias", 1), ("running_mean", 1), ("running_var", 1),
                  ("num_batches_tracked", 0)]
    rows = [("embedding.weight", "embedding.weight", (148, 512))]
    for i in range(3):
        rows += [(f"encoder.convolutions.{i}.0.conv.weight", f"encoder.convolutions.{i}.0.weight",
                  (512, 512, 5)),
                 (f"encoder.convolutions.{i}.0.conv.bias", f"encoder.convolutions.{i}.0.bias", (512,))]
        rows += [(f"encoder.convolutions.{i}.1.{n}", f"encoder.convolutions.{i}.1.{n}",
                  (512,) if dims else ()) for n, dims in batch_norm]
    for suffix in ("", "_reverse"):
        rows += [(f"encoder.lstm.weight_ih_l0{suffix}",) * 2 + ((1024, 512),),
                 (f"encoder.lstm.weight_hh_l0{suffix}",) * 2 + ((1024, 256),),
                 (f"encoder.lstm.bias_ih_l0{suffix}",) * 2 + ((1024,),),
                 (f"encoder.lstm.bias_hh_l0{suffix}",) * 2 + ((1024,),)]
    rows += [("decoder.prenet.layers.0.linear_layer.weight", "decoder.prenet.layers.0.weight", (256, 80)),
             ("decoder.prenet.layers.1.linear_layer.weight", "decoder.prenet.layers.1.weight", (256, 256))]
    for rnn, inputs in (("attention_rnn", 256 + 512), ("decoder_rnn", 1024 + 512)):
        rows += [(f"decoder.{rnn}.weight_ih",) * 2 + ((4096, inputs),),
                 (f"decoder.{rnn}.weight_hh",) * 2 + ((4096, 1024),),
                 (f"decoder.{rnn}.bias_ih",) * 2 + ((4096,),),
                 (f"decoder.{rnn}.bias_hh",) * 2 + ((4096,),)]
    attention = "decoder.attention_layer"
    rows += [(f"{attention}.query_layer.linear_layer.weight", "decoder.attention.query_layer.weight", (128, 1024)),
             (f"{attention}.memory_layer.linear_layer.weight", "decoder.attention.memory_layer.weight", (128, 512)),
             (f"{attention}.v.linear_layer.weight", "decoder.attention.v.weight", (1, 128)),
             (f"{attention}.location_layer.location_conv.conv.weight",
              "decoder.attention.location_conv.weight", (32, 2, 31)),
             (f"{attention}.location_layer.location_dense.linear_layer.weight",
              "decoder.attention.location_layer.weight", (128, 32)),
             ("decoder.linear_projection.linear_layer.weight", "decoder.mel_projection.weight", (80, 1536)),
             ("decoder.linear_projection.linear_layer.bias", "decoder.mel_projection.bias", (80,)),
             ("decoder.gate_layer.linear_layer.weight", "decoder.gate_projection.weight", (1, 1536)),
             ("decoder.gate_layer.linear_layer.bias", "decoder.gate_projection.bias", (1,))]
    channels = [80, 512, 512, 512, 512, 80]
    for i in range(5):
        rows += [(f"postnet.convolutions.{i}.0.conv.weight", f"postnet.layers.{i}.0.weight",
                  (channels[i + 1], channels[i], 5)),
                 (f"postnet.convolutions.{i}.0.conv.bias", f"postnet.layers.{i}.0.bias", (channels[i + 1],))]
        rows += [(f"postnet.convolutions.{i}.1.{n}", f"postnet.layers.{i}.1.{n}",
                  (channels[i + 1],) if dims else ()) for n, dims in batch_norm]
    return rows


@pytest.fixture(scope="module")
def nvidia_checkpoint(tmp_path_factory):
    """A state dict in NVIDIA's layout with random values, and the same tensors under our names."""
    generator = torch.Generator().manual_seed(0)
    nvidia, ours = {}, {}
    for nvidia_name, our_name, shape in nvidia_published_layout():
        if nvidia_name.endswith("num_batches_tracked"):
            tensor = torch.tensor(1000)
        elif nvidia_name.endswith("running_var"):
            tensor = torch.rand(shape, generator=generator) + 0.5
        else:
            tensor = torch.randn(shape, generator=generator) * 0.05
        nvidia[nvidia_name] = ours[our_name] = tensor
    path = tmp_path_factory.mktemp("nvidia") / "tacotron2_statedict.pt"
    torch.save({"state_dict": nvidia}, path)
    return path, nvidia, ours


def paper_model(**changes) -> Tacotron2:
    """Our model at the paper's sizes, which are NVIDIA's hparams (checked by the shapes)."""
    config = Config()
    for key, value in changes.items():
        setattr(config.model, key, value)
    return Tacotron2(config.model, len(NVIDIA_SYMBOLS), 80)


def outputs(model: Tacotron2):
    model.eval()
    torch.manual_seed(7)  # the prenet's dropout stays on at inference: same masks for both
    generator = torch.Generator().manual_seed(3)
    text = torch.randint(1, 148, (2, 12), generator=generator)
    mels = torch.randn(2, 80, 20, generator=generator)
    with torch.no_grad():
        return model(text, torch.tensor([12, 9]), mels, torch.tensor([20, 15]))


def test_nvidia_layout_loads_and_gives_the_outputs_of_the_same_weights_loaded_natively(
        nvidia_checkpoint):
    path, _, ours = nvidia_checkpoint
    warm = paper_model()
    report = warm_start(warm, NVIDIA_SYMBOLS, path)
    assert report.layout == "nvidia"
    assert report.symbols_copied == 148
    assert {row["status"] for row in report.rows} == {"kept", "rows copied"}
    native = paper_model()
    # Strict: every tensor of our model, none left over; NVIDIA's decoder reads and writes raw
    # log-mels, so its frame statistics are the identity.
    native.load_state_dict({**ours, "decoder.mel_mean": torch.zeros(80), "decoder.mel_std": torch.ones(80)})
    a, b = outputs(warm), outputs(native)
    assert torch.equal(a.mel_postnet, b.mel_postnet)
    assert torch.equal(a.gate_logits, b.gate_logits)
    assert torch.equal(a.alignments, b.alignments)


def test_another_symbol_set_copies_exactly_the_shared_rows(nvidia_checkpoint):
    path, nvidia, _ = nvidia_checkpoint
    model = Tacotron2(Config().model, len(ENGLISH_SYMBOLS), 80)
    fresh = model.embedding.weight.detach().clone()
    report = warm_start(model, ENGLISH_SYMBOLS, path)
    shared = [s for s in ENGLISH_SYMBOLS if s in NVIDIA_SYMBOLS]
    # pad, space, ! ' , - . : ; ? and a-z; our end-of-sentence "~" is not in NVIDIA's set
    assert len(shared) == 36 and report.symbols_copied == 36
    assert report.symbols_total == len(ENGLISH_SYMBOLS) == 37
    rows = model.embedding.weight.detach()
    for index, symbol in enumerate(ENGLISH_SYMBOLS):
        if symbol in NVIDIA_SYMBOLS:
            assert torch.equal(rows[index], nvidia["embedding.weight"][NVIDIA_SYMBOLS.index(symbol)])
        else:
            assert torch.equal(rows[index], fresh[index])
    # the rest of the model is kept whole
    assert torch.equal(model.decoder.mel_projection.weight.detach(),
                       nvidia["decoder.linear_projection.linear_layer.weight"])


def test_a_shape_that_cannot_fit_names_the_layer_and_both_shapes(nvidia_checkpoint):
    path, _, _ = nvidia_checkpoint
    model = paper_model(reduction_factor=3)  # 3 frames per step: a 240-row mel projection
    with pytest.raises(UserError) as error:
        warm_start(model, NVIDIA_SYMBOLS, path)
    message = str(error.value)
    assert "decoder.linear_projection.linear_layer.weight (80, 1536)" in message
    assert "decoder.mel_projection.weight (240, 1536)" in message
    assert "decoder.linear_projection.linear_layer.bias (80,)" in message
    # left out, it stays freshly initialised and the rest loads
    fresh = model.decoder.mel_projection.weight.detach().clone()
    report = warm_start(model, NVIDIA_SYMBOLS, path, ignore=["decoder.mel_projection"])
    row = next(row for row in report.rows if row["layer"] == "decoder.mel_projection")
    assert row["status"] == "re-initialised"
    assert torch.equal(model.decoder.mel_projection.weight.detach(), fresh)
    assert sum(row["status"] == "kept" for row in report.rows) == len(report.rows) - 2


def test_freezing_drops_the_gradients_of_the_named_modules_for_the_first_steps():
    model = Tacotron2(load_config("cpu-tiny", overrides=FAST_OVERRIDES).model, 10, 80)
    frozen = frozen_parameters(model, ["encoder", "embedding"])
    assert len(frozen) == len(list(model.encoder.parameters())) + 1
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    drop_frozen_gradients(frozen, step=9, freeze_steps=10)
    assert all(p.grad is None for p in frozen)
    assert all(p.grad is not None for p in model.decoder.parameters())
    for parameter in frozen:
        parameter.grad = torch.ones_like(parameter)
    drop_frozen_gradients(frozen, step=10, freeze_steps=10)  # thawed from step 10 on
    assert all(p.grad is not None for p in frozen)
    with pytest.raises(UserError, match="train.freeze: no module encodr"):
        frozen_parameters(model, ["encodr"])


@pytest.mark.slow
def test_warm_start_from_own_checkpoint_starts_where_the_source_ended(corpus_en, tmp_path):
    """The CLI with --init-from (the source's last checkpoint) and no steps: its validation before
    the first step gives the source's last validation mel L1 within 5%, and the run's events hold
    the table. (A run folder as SOURCE means its best.pt, as for synthesis.)"""
    common = ["--data", str(corpus_en), "--preset", "cpu-tiny", *FAST_OVERRIDES,
              "train.learning_rate=0.003", "train.warmup_steps=1"]
    source = tmp_path / "source"
    subprocess.run([sys.executable, "-m", "tacotron.cli", "train", "--out", str(source), *common,
                    "train.max_steps=16"], check=True, capture_output=True, text=True)
    last = ckpt.step_checkpoints(source)[-1][1]
    source_l1 = ckpt.load_checkpoint(last)["val_metrics"]["mel_l1"]
    fresh = subprocess.run([sys.executable, "-m", "tacotron.cli", "train", "--out",
                            str(tmp_path / "scratch"), *common, "train.max_steps=0"],
                           check=True, capture_output=True, text=True)
    warm = subprocess.run([sys.executable, "-m", "tacotron.cli", "train", "--out",
                           str(tmp_path / "warm"), "--init-from", str(last), *common,
                           "train.max_steps=0"], check=True, capture_output=True, text=True)
    warm_l1 = json.loads(warm.stdout)["val"]["mel_l1"]
    scratch_l1 = json.loads(fresh.stdout)["val"]["mel_l1"]
    print(f"source {source_l1:.4f} warm {warm_l1:.4f} scratch {scratch_l1:.4f}")
    assert abs(warm_l1 - source_l1) <= 0.05 * source_l1, (warm_l1, source_l1)
    assert abs(scratch_l1 - source_l1) > 0.05 * source_l1  # the test can tell the two apart
    assert "warm start from" in warm.stderr
    (event,) = [e for e in read_events(tmp_path / "warm") if e.kind == "warm_start"]
    assert event.fields["symbols_copied"] == event.fields["symbols_total"]
    assert {row["status"] for row in event.fields["layers"]} == {"kept", "rows copied"}


@pytest.mark.slow
def test_one_voice_fine_tunes_a_multi_speaker_source_in_the_source_shape(corpus_en, tmp_path):
    """--init-from a multi-speaker run (model.speaker_dim=8, another model size than the preset's) into
    single-speaker data, with no model settings given: the run takes the source's shape, every layer is
    kept, and its one new speaker starts from the mean of the source's speaker rows."""
    from tacotron.data.corpus import make_corpus

    many = make_corpus("en", tmp_path / "many", count=8, speakers=2, progress=False)
    train = ["train.num_threads=1", "data.val_size=3", "train.batch_size=4", "train.val_every_steps=2",
             "train.checkpoint_every_steps=2"]
    source = tmp_path / "source"
    subprocess.run([sys.executable, "-m", "tacotron.cli", "train", "--data", str(many), "--out", str(source),
                    "--preset", "cpu-tiny", *FAST_OVERRIDES, "model.speaker_dim=8", "train.max_steps=2"],
                   check=True, capture_output=True, text=True)
    done = subprocess.run([sys.executable, "-m", "tacotron.cli", "train", "--data", str(corpus_en), "--out",
                           str(tmp_path / "one"), "--init-from", str(source), "--preset", "cpu-tiny", *train,
                           "train.max_steps=2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the model takes its source's" in done.stderr and "model.speaker_dim" in done.stderr
    (event,) = [e for e in read_events(tmp_path / "one") if e.kind == "warm_start"]
    statuses = {row["layer"]: row["status"] for row in event.fields["layers"]}
    assert statuses["speaker_embedding"] == "rows copied"
    assert set(statuses.values()) == {"kept", "rows copied"}
    state = ckpt.load_checkpoint(ckpt.step_checkpoints(tmp_path / "one")[-1][1])
    assert state["speakers"] == ["speaker"] and state["config"]["model"]["speaker_dim"] == 8
    source_rows = ckpt.load_checkpoint(ckpt.step_checkpoints(source)[-1][1])["model"]["speaker_embedding.weight"]
    first = ckpt.read_torch_file(tmp_path / "one" / "checkpoints" / "step_0000002.pt")
    # two steps at the warm-up's small learning rate move the mean row only a little
    assert torch.allclose(first["model"]["speaker_embedding.weight"][0], source_rows.mean(dim=0), atol=0.05)


@pytest.mark.slow
def test_warm_start_statistics_are_the_sources_unless_asked_for_the_datas(corpus_en, tmp_path):
    """train.warm_start_statistics: "source" keeps the source's frame statistics (buffers, untouched by
    the optimizer), "data" takes this data set's, the same a new run from scratch computes."""
    from tacotron.data.corpus import make_corpus

    russian = make_corpus("ru", tmp_path / "ru", count=12, progress=False)
    common = ["--preset", "cpu-tiny", *FAST_OVERRIDES, "train.max_steps=1"]

    def statistics(run, *extra):
        subprocess.run([sys.executable, "-m", "tacotron.cli", "train", "--out", str(tmp_path / run), *common, *extra],
                       check=True, capture_output=True, text=True)
        weights = ckpt.load_checkpoint(ckpt.step_checkpoints(tmp_path / run)[-1][1])["model"]
        return weights["decoder.mel_mean"], weights["decoder.mel_std"]

    source = statistics("source", "--data", str(corpus_en))
    scratch = statistics("scratch", "--data", str(russian))
    kept = statistics("kept", "--data", str(russian), "--init-from", str(tmp_path / "source"))
    taken = statistics("taken", "--data", str(russian), "--init-from", str(tmp_path / "source"),
                       "train.warm_start_statistics=data")
    assert not torch.allclose(source[0], scratch[0])  # the two corpora's statistics differ
    assert all(torch.equal(a, b) for a, b in zip(kept, source))
    assert all(torch.allclose(a, b) for a, b in zip(taken, scratch))
