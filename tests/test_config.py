import pytest
import yaml

from tacotron.cli import main
from tacotron.config import Config, ConfigError, config_from_dict, load_config, presets
from tacotron.training.trainer import learning_rate_at


def test_defaults_are_the_paper_and_presets_override():
    assert Config().model.reduction_factor == 1 and Config().model.decoder_rnn_dim == 1024
    tiny = load_config("cpu-tiny")
    assert tiny.model.reduction_factor == 3 and tiny.model.decoder_rnn_dim == 256
    assert {"cpu-tiny", "cpu-small", "paper"} <= set(presets())
    small = load_config("cpu-small")  # cpu-tiny 1.5 times as wide, its other settings the same
    assert small.model.decoder_rnn_dim == 384 and small.model.encoder_dim == 192
    assert small.model.reduction_factor == tiny.model.reduction_factor and small.train == tiny.train


def test_overrides_are_typed():
    config = load_config("cpu-tiny", overrides=["train.batch_size=8", "train.learning_rate=3e-4",
                                                "model.prenet_dims=[64, 32]", "text.language=ru"])
    assert config.train.batch_size == 8 and config.train.learning_rate == pytest.approx(3e-4)
    assert config.model.prenet_dims == [64, 32] and config.text.language == "ru"


def test_unquoted_off_is_the_word_not_a_boolean(tmp_path):
    config = load_config(overrides=["inference.attention_constraint=off", "train.amp=off"])
    assert config.inference.attention_constraint == "off" and config.train.amp == "off"
    file = tmp_path / "c.yaml"
    file.write_text("inference:\n  attention_constraint: off\n")
    assert load_config(path=file).inference.attention_constraint == "off"


@pytest.mark.parametrize("override, message", [
    ("train.bach_size=8", "unknown config key 'train.bach_size' (did you mean 'train.batch_size'?)"),
    ("train.batch_size=eight", "config key 'train.batch_size': expected an integer"),
    ("model.prenet_dims=5", "config key 'model.prenet_dims': expected a list"),
    ("nosection=1", "unknown config key 'nosection'"),
    ("train.batch_size", "not of the form section.key=value"),
    ("train.amp=fp8", "train.amp must be auto, off, bf16 or fp16"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(overrides=[override])
    assert message in str(error.value)


def test_yaml_file_and_errors_name_the_file(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("train:\n  batch_size: 4\nloss:\n  gate_pos_weight: 2\n")
    config = load_config("cpu-tiny", good, ["train.batch_size=5"])
    assert config.train.batch_size == 5 and config.loss.gate_pos_weight == 2.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  batch_sise: 4\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'train.batch_sise'"):
        load_config(path=bad)
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        load_config("huge")


def test_saved_config_round_trips(tmp_path):
    config = load_config("cpu-tiny", overrides=["train.seed=7"])
    (tmp_path / "c.yaml").write_text(config.to_yaml(), encoding="utf-8")
    again = config_from_dict(yaml.safe_load((tmp_path / "c.yaml").read_text()))
    assert again == config


def test_cli_reports_config_error_without_traceback(tmp_path, capsys):
    code = main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"),
                 "train.bach_size=3"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: unknown config key 'train.bach_size'" in err and "Traceback" not in err


def test_learning_rate_schedule():
    train = load_config(overrides=["train.learning_rate=1e-3", "train.warmup_steps=10",
                                   "train.lr_half_life_steps=100",
                                   "train.min_learning_rate=1e-4"]).train
    assert learning_rate_at(0, train) == pytest.approx(1e-4)
    assert learning_rate_at(9, train) == pytest.approx(1e-3)
    assert learning_rate_at(110, train) == pytest.approx(5e-4)
    assert learning_rate_at(10_000, train) == pytest.approx(1e-4)
