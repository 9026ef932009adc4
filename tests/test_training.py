"""End-to-end training behaviour on a tiny eSpeak corpus: resume, interruption, checkpoints."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile
import torch

from tacotron.data.prepare import prepare
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.events import read_events
from tacotron.text import get_frontend
from tacotron.training.callbacks import Callback
from tacotron.training.trainer import Trainer

from support.overrides import FAST_OVERRIDES

pytestmark = pytest.mark.slow  # every test here trains a model


def train(config, corpus, run_dir, **kwargs):
    trainer = Trainer(config, prepare(corpus, config, progress=False), run_dir, progress=False,
                      **kwargs)
    trainer.fit()
    return trainer


def test_training_reduces_loss_and_writes_checkpoints(corpus_en, fast_config, tmp_path):
    # 40 steps: the decoder starts at the data's mean frame (standardized frames), so what a few
    # steps teach is the text, not the log-mel's offset; 12 steps moved the loss by batch noise only.
    config = fast_config("train.max_steps=40", "train.keep_last_checkpoints=2", "train.val_every_steps=10",
                         "train.checkpoint_every_steps=10", "train.learning_rate=0.003", "train.warmup_steps=1")
    losses = []

    class Recorder:
        def __getattr__(self, name):
            return lambda *args: None

        def on_step_end(self, trainer, logs):
            losses.append(logs["total"])

    trainer = train(config, corpus_en, tmp_path / "run", callbacks=[Recorder()])
    assert trainer.step == 40 and len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.85 * sum(losses[:5]) / 5
    steps = [step for step, _ in ckpt.step_checkpoints(tmp_path / "run")]
    assert steps == [30, 40]  # keep-last-2 of 10, 20, 30, 40
    for step in steps:
        assert (tmp_path / "run/checkpoints" / f"step_{step:07d}.yaml").is_file()
    assert (tmp_path / "run/checkpoints/best.pt").is_file()
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    assert {"diagonality", "focus_rate", "monotonicity", "mel_l1"} <= set(records[-1])
    events = read_events(tmp_path / "run")
    kinds = [event.kind for event in events]
    assert kinds[0] == "train_start" and kinds[-1] == "train_end"
    assert [e.step for e in events if e.kind == "validation"] == [10, 20, 30, 40]
    assert [e.step for e in events if e.kind == "checkpoint"] == [10, 20, 30, 40]
    assert events[-1].fields["reason"] == "max_steps"
    assert events[-1].fields["mel_l1"] == records[-1]["mel_l1"]


def test_figures_a_callback_adds_at_validation_reach_every_callback_metrics_jsonl_and_the_event(
        corpus_en, fast_config, tmp_path):
    seen = []

    class Sink(Callback):  # before the callback that adds figures, and still sees them
        def on_validation_end(self, trainer, metrics, sample):
            seen.append(metrics.get("wer"))
            metrics.clear()  # its own copy: the record and the other callbacks keep theirs

    class AddsFigures(Callback):  # as the intelligibility evaluation does
        def validation_figures(self, trainer, metrics, sample):
            return {"wer": trainer.step / 100}

        def on_validation_end(self, trainer, metrics, sample):
            seen.append(metrics.get("wer"))

    train(fast_config("train.max_steps=8"), corpus_en, tmp_path / "run", callbacks=[Sink(), AddsFigures()])
    assert seen == [0.04, 0.04, 0.08, 0.08]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["wer"]) for r in records] == [(4, 0.04), (8, 0.08)]
    validations = [e for e in read_events(tmp_path / "run") if e.kind == "validation"]
    assert [e.fields["wer"] for e in validations] == [0.04, 0.08]


def test_a_crash_is_an_event_and_a_callback_can_stop_the_run(corpus_en, fast_config, tmp_path):
    class Crash(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.step == 2:
                raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        train(fast_config("train.max_steps=6"), corpus_en, tmp_path / "crash", callbacks=[Crash()])
    crash = read_events(tmp_path / "crash")[-1]
    assert crash.kind == "crash" and crash.step == 2
    assert crash.fields["error"] == "RuntimeError: disk on fire"
    assert "raise RuntimeError" in crash.fields["traceback"]

    class EarlyStop(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.step == 3:
                trainer.request_stop("early_stop")

    trainer = train(fast_config("train.max_steps=6"), corpus_en, tmp_path / "stop",
                    callbacks=[EarlyStop()])
    assert trainer.step == 3 and trainer.finished_reason == "early_stop"
    assert ckpt.step_checkpoints(tmp_path / "stop")[-1][0] == 3

    class SaveAtTwo(Callback):
        saved: list[int] = []

        def on_step_end(self, trainer, logs):
            if trainer.step == 2:
                trainer.request_checkpoint()

        def on_checkpoint(self, trainer, path, is_best):
            self.saved.append(trainer.step)

    saver = SaveAtTwo()
    train(fast_config("train.max_steps=5", "train.checkpoint_every_steps=100", "train.val_every_steps=100",
                      "train.keep_last_checkpoints=0"), corpus_en, tmp_path / "asked", callbacks=[saver])
    # Step 2 because it was asked for, step 5 at the end; none between.
    assert [step for step, _ in ckpt.step_checkpoints(tmp_path / "asked")] == [2, 5]
    assert saver.saved == [2, 5]


def test_resume_continues_exactly(corpus_en, fast_config, tmp_path):
    """8 steps in one go == 4 steps, stop, resume to 8: same weights, bit for bit."""
    straight = train(fast_config("train.max_steps=8"), corpus_en, tmp_path / "a")
    train(fast_config("train.max_steps=4"), corpus_en, tmp_path / "b")
    resumed = train(fast_config("train.max_steps=8"), corpus_en, tmp_path / "b")
    assert resumed.resumed_from.name == "step_0000004.pt"
    for (name, a), (_, b) in zip(straight.task.model.state_dict().items(),
                                 resumed.task.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_adversarial_loss_trains_a_discriminator_that_a_resume_continues_exactly(corpus_en, fast_config, tmp_path):
    """loss.adversarial_weight > 0: the discriminator learns, is saved with the weights and a resumed
    run continues it bit for bit; the model's step differs from a run without the term."""
    adversarial = "loss.adversarial_weight=0.5"
    straight = train(fast_config("train.max_steps=8", adversarial), corpus_en, tmp_path / "a")
    plain = train(fast_config("train.max_steps=8"), corpus_en, tmp_path / "plain")
    assert plain.task.discriminator is None
    # The discriminator took one Adam step per training step, on every parameter.
    adam_state = straight.task.discriminator_optimizer.state_dict()["state"]
    assert len(adam_state) == len(list(straight.task.discriminator.parameters()))
    assert {int(entry["step"]) for entry in adam_state.values()} == {8}
    assert not torch.equal(straight.task.model.postnet.state_dict()["layers.0.0.weight"],
                           plain.task.model.postnet.state_dict()["layers.0.0.weight"])
    train(fast_config("train.max_steps=4", adversarial), corpus_en, tmp_path / "b")
    state = ckpt.load_checkpoint(ckpt.step_checkpoints(tmp_path / "b")[-1][1])
    assert set(state["discriminator"]) == {"model", "optimizer"}
    resumed = train(fast_config("train.max_steps=8", adversarial), corpus_en, tmp_path / "b")
    assert resumed.resumed_from.name == "step_0000004.pt"
    for module in ("model", "discriminator"):
        for (name, a), (_, b) in zip(getattr(straight.task, module).state_dict().items(),
                                     getattr(resumed.task, module).state_dict().items()):
            assert torch.equal(a, b), (module, name)


def run_cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "tacotron.cli", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def wait_for_checkpoint(run_dir: Path, min_step: int, process, timeout=120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ckpt.step_checkpoints(run_dir)
        if found and found[-1][0] >= min_step:
            return found[-1][0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError("no checkpoint in time")


def test_kill_9_then_resume_loses_nothing_beyond_last_checkpoint(corpus_en, tmp_path):
    run_dir = tmp_path / "run"
    base = ["train", "--data", str(corpus_en), "--out", str(run_dir), "--preset", "cpu-tiny",
            *FAST_OVERRIDES, "train.checkpoint_every_steps=3"]
    process = run_cli(*base, "train.max_steps=1000")
    saved = wait_for_checkpoint(run_dir, 6, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = ckpt.step_checkpoints(run_dir)[-1][0]
    target = saved + 2
    finished = run_cli(*base, f"train.max_steps={target}")
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err
    assert f"resumed from step_{saved:07d}.pt, step {saved}" in err
    assert json.loads(out)["step"] == target


def test_ctrl_c_saves_and_exits_cleanly(corpus_en, tmp_path):
    run_dir = tmp_path / "run"
    process = run_cli("train", "--data", str(corpus_en), "--out", str(run_dir), "--preset",
                      "cpu-tiny", *FAST_OVERRIDES, "train.max_steps=100000")
    wait_for_checkpoint(run_dir, 4, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    result = json.loads(out)
    assert result["stopped"] == "interrupted"
    assert ckpt.step_checkpoints(run_dir)[-1][0] == result["step"]  # the current step was saved
    assert "Traceback" not in err


def test_synth_cli_writes_audio_within_the_length_cap(corpus_en, fast_config, tmp_path):
    train(fast_config("train.max_steps=4"), corpus_en, tmp_path / "run")
    out_wav = tmp_path / "hello.wav"
    process = run_cli("synth", "--checkpoint", str(tmp_path / "run"), "--text", "Hi there.",
                      "--out", str(out_wav))
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    audio, rate = soundfile.read(out_wav)
    assert rate == 22050
    config = fast_config()
    symbols = len(get_frontend("en", config.text.input).encode("Hi there."))  # end-of-sentence included
    cap_seconds = symbols * config.inference.max_frames_per_symbol * 256 / 22050
    assert 0 < len(audio) / rate <= cap_seconds + 0.05
    assert "frames=" in out and "focus=" in out and "coverage=" in out


def test_tensorboard_gets_losses_lr_grad_norm_images_audio(corpus_en, fast_config, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tacotron.monitoring.tensorboard import TensorBoardLogger

    train(fast_config("train.max_steps=4"), corpus_en, tmp_path / "run",
          callbacks=[TensorBoardLogger()])
    events = EventAccumulator(str(tmp_path / "run/tensorboard"),
                              size_guidance={"images": 0, "audio": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/total", "train/lr", "train/grad_norm", "train/guided_attention",
            "val/diagonality", "val/mel_l1"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("train/total")] == [2, 4]
    assert "val/alignment" in tags["images"] and "val/free_running" in tags["audio"]
    assert events.Audio("val/free_running")[0].sample_rate == 22050


def test_gradient_accumulation_counts_optimizer_steps(corpus_en, fast_config, tmp_path):
    trainer = train(fast_config("train.max_steps=3", "train.grad_accumulation_steps=2",
                                "train.batch_size=2"), corpus_en, tmp_path / "run")
    assert trainer.step == 3
    state = torch.load(ckpt.step_checkpoints(tmp_path / "run")[-1][1], weights_only=False)
    micro_batches = state["epoch"] * len(trainer.task.sampler) + state["batch_in_epoch"]
    assert micro_batches == 6  # two micro-batches per optimizer step


def test_python_api_is_deterministic(corpus_en, fast_config, tmp_path):
    from tacotron.inference import Synthesizer

    train(fast_config("train.max_steps=2"), corpus_en, tmp_path / "run")
    synthesizer = Synthesizer.from_checkpoint(tmp_path / "run")
    first, rate = synthesizer.tts("Hello there.")
    second, _ = synthesizer.tts("Hello there.")
    assert rate == 22050 and first.dtype.name == "float32" and len(first) > 0
    assert (first == second).all()


def test_a_corpus_made_by_a_speech_engine_keeps_its_own_stress_and_a_resume_keeps_the_runs(
        corpus_en, fast_config, tmp_path):
    """`text.stress=auto` on a `corpus make` corpus is `off` (the engine chose the stresses its audio
    has), the checkpoint says so, and resuming with other marks than the run was trained on stops."""
    from tacotron.data.prepare import data_stress
    from tacotron.errors import UserError

    assert (Path(corpus_en) / "corpus.json").is_file()
    assert data_stress("auto", Path(corpus_en)) == "off"
    assert data_stress("on", Path(corpus_en)) == "on"
    assert data_stress("auto", tmp_path) == "auto"  # recordings of a person take Silero's marks
    trainer = train(fast_config("train.max_steps=2"), corpus_en, tmp_path / "run")
    assert trainer.config.text.stress == "off"
    path = tmp_path / "run/checkpoints/step_0000002.pt"
    state = torch.load(path, weights_only=False)
    assert state["config"]["text"]["stress"] == "off"
    state["config"]["text"]["stress"] = "auto"  # as if the run had been trained with marks
    torch.save(state, path)
    with pytest.raises(UserError, match=r"trained with text.stress=auto.*resume it with text.stress=auto"):
        train(fast_config("train.max_steps=4"), corpus_en, tmp_path / "run")
