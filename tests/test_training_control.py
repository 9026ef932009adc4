"""Schedules, extra losses and the auto-fix controller (issue: training that aligns fast and
heals itself)."""

import math
from types import SimpleNamespace

import pytest
import torch

from tacotron.config import load_config
from tacotron.data.prepare import prepare
from tacotron.model.losses import (ctc_alignment_loss, ddc_alignment_loss,
                                   monotonic_alignment_loss, spectral_mel_loss)
from tacotron.model.tacotron2 import Tacotron2
from tacotron.runs import checkpoint as ckpt
from tacotron.training.controller import Controller
from tacotron.runs.events import read_events
from tacotron.training.schedules import (Controls, guided_attention_sigma,
                                         guided_attention_weight, next_phase,
                                         teacher_forcing_ratio)
from tacotron.training.callbacks import Callback
from tacotron.training.trainer import Trainer, apply_actions


def test_schedules_follow_their_formulas():
    # sigma 0.4 -> 0.2 over 2000 steps, TF 1000 / 0.7 / 10000
    schedule = load_config(overrides=["schedule.guided_sigma_start=0.4"]).schedule
    assert guided_attention_sigma(0, schedule, 0.2) == pytest.approx(0.4)
    assert guided_attention_sigma(1000, schedule, 0.2) == pytest.approx(0.3)
    assert guided_attention_sigma(9999, schedule, 0.2) == pytest.approx(0.2)
    assert teacher_forcing_ratio(999, schedule) == 1.0
    assert teacher_forcing_ratio(6000, schedule) == pytest.approx(0.85)
    assert teacher_forcing_ratio(50000, schedule) == pytest.approx(0.7)
    # weight: full until aligned, then halves every half-life toward the floor (10)
    assert guided_attention_weight(500, "alignment_learning", 0, 300.0, schedule) == 300.0
    assert guided_attention_weight(2500, "quality_optimization", 500, 300.0,
                                   schedule) == pytest.approx(10 + 290 * 0.5)
    assert guided_attention_weight(9, "fine_tuning", 0, 300.0, schedule) == 10.0
    assert guided_attention_weight(9, "fine_tuning", 0, 0.0, schedule) == 0.0


def test_phase_transitions_need_steps_and_metrics():
    schedule = load_config().schedule
    aligned = {"diagonality": 0.95, "monotonicity": 0.99}
    assert next_phase("pre_alignment", 150, aligned, [], schedule).to == "quality_optimization"
    assert next_phase("pre_alignment", 50, aligned, [], schedule).to == "alignment_learning"
    assert next_phase("pre_alignment", 50, {"diagonality": 0.6}, [], schedule).to \
        == "alignment_learning"
    schedule.quality_min_steps = 100
    assert next_phase("alignment_learning", 50, aligned, [], schedule) is None  # too early
    assert next_phase("quality_optimization", 900, {"diagonality": 0.5}, [],
                      schedule).to == "alignment_learning"
    schedule.fine_tuning_min_steps = 100
    slow = [2.0, 1.99, 1.985, 1.98]  # 1% better over 3 validations < 2%
    assert next_phase("quality_optimization", 200, aligned, slow, schedule).to == "fine_tuning"
    assert next_phase("quality_optimization", 200, aligned, [2.0, 1.8, 1.6, 1.5], schedule) is None


def test_spectral_loss_weights_low_bins_and_onsets():
    target = torch.zeros(1, 4, 6)
    mask = torch.ones(1, 6, dtype=torch.bool)
    low = target.clone()
    low[0, 0] = 1.0
    high = target.clone()
    high[0, 3] = 1.0
    # boost 1: weights 2, 5/3, 4/3, 1 normalised by their mean 1.5; no time change
    assert spectral_mel_loss(low, target, mask, 1.0, 1.0).item() == pytest.approx(2 / 1.5 / 4)
    assert spectral_mel_loss(high, target, mask, 1.0, 1.0).item() == pytest.approx(1 / 1.5 / 4)
    step = target.clone()
    step[0, :, 3:] = 1.0  # an onset: one frame pair differs by 1 in every bin
    plain = spectral_mel_loss(step, target, mask, 0.0, 0.0).item()
    assert spectral_mel_loss(step, target, mask, 0.0, 1.0).item() == pytest.approx(plain + 1 / 5)
    assert spectral_mel_loss(target, target, mask, 1.0, 1.0).item() == 0.0


def test_monotonic_penalty_only_for_backward_attention():
    forward = torch.eye(5)[None]  # centroid 0, 1, 2, 3, 4
    assert monotonic_alignment_loss(forward, torch.tensor([5])).item() == 0.0
    backward = torch.eye(5).flip(0)[None]  # centroid 4, 3, 2, 1, 0: one symbol back per step
    assert monotonic_alignment_loss(backward, torch.tensor([5])).item() == pytest.approx(1.0)
    assert monotonic_alignment_loss(backward, torch.tensor([3])).item() == pytest.approx(1.0)
    assert monotonic_alignment_loss(backward, torch.tensor([5]), tolerance=1.0).item() == 0.0
    backward.requires_grad_(True)
    monotonic_alignment_loss(backward, torch.tensor([5])).backward()
    assert backward.grad.abs().sum() > 0


def test_ddc_and_ctc_losses():
    fine = torch.eye(4).repeat_interleave(2, 0)[None]  # 8 fine steps (r=1), 4 symbols
    coarse = torch.eye(4)[None]  # 4 coarse steps (r=2)
    lengths = torch.tensor([4])
    assert ddc_alignment_loss(fine, coarse, 1, 2, lengths, torch.tensor([8])).item() == 0.0
    shifted = torch.eye(4).roll(1, 1)[None]
    assert ddc_alignment_loss(fine, shifted, 1, 2, lengths, torch.tensor([8])).item() \
        == pytest.approx(2 / 4)
    # a recognizer sure of the right symbols has a lower CTC loss than one sure of wrong ones
    text = torch.tensor([[1, 2]])
    right = torch.full((6, 1, 4), -9.0)
    for t, symbol in enumerate([1, 1, 3, 2, 2, 3]):
        right[t, 0, symbol] = 0.0
    wrong = right.roll(1, 2)
    loss_right = ctc_alignment_loss(right.log_softmax(2), text, torch.tensor([2]), torch.tensor([6]))
    loss_wrong = ctc_alignment_loss(wrong.log_softmax(2), text, torch.tensor([2]), torch.tensor([6]))
    assert loss_right.item() < 0.01 < loss_wrong.item()


def small_model(*extra):
    config = load_config("cpu-tiny", overrides=[
        "model.embedding_dim=16", "model.encoder_dim=16", "model.prenet_dims=[16,16]",
        "model.attention_rnn_dim=32", "model.decoder_rnn_dim=32", "model.attention_dim=8",
        "model.location_filters=4", "model.postnet_channels=16", *extra])
    torch.manual_seed(0)
    return Tacotron2(config.model, n_symbols=12, n_mels=8), config


def test_curriculum_teacher_forcing_feeds_own_frames():
    model, _ = small_model("model.prenet_dropout=0", "model.attention_dropout=0",
                           "model.decoder_dropout=0")
    model.eval()
    text, text_lengths = torch.randint(1, 12, (2, 5)), torch.tensor([5, 4])
    mels, mel_lengths = torch.randn(2, 8, 12), torch.tensor([12, 9])
    with torch.no_grad():
        forced = model(text, text_lengths, mels, mel_lengths).mel
        stepwise = model(text, text_lengths, mels, mel_lengths, teacher_forcing_ratio=1 - 1e-9).mel
        own = model(text, text_lengths, mels, mel_lengths, teacher_forcing_ratio=0.0).mel
    assert torch.allclose(forced, stepwise, atol=1e-5)  # the per-step path is the same model
    assert not torch.allclose(forced[:, :, 3:], own[:, :, 3:], atol=1e-3)
    assert torch.allclose(forced[:, :, :3], own[:, :, :3], atol=1e-5)  # step 0 has no own frame


def test_double_decoder_and_ctc_switches_train_end_to_end():
    model, config = small_model("model.ddc_reduction_factor=6", "loss.ddc_alignment_weight=1",
                                "model.ctc_recognizer_dim=16", "loss.ctc_weight=0.5")
    from tacotron.model.losses import Tacotron2Loss, Targets

    text, text_lengths = torch.randint(1, 12, (2, 5)), torch.tensor([5, 4])
    mels, mel_lengths = torch.randn(2, 8, 12), torch.tensor([12, 9])
    output = model(text, text_lengths, mels, mel_lengths)
    assert output.alignments_coarse.shape == (2, 2, 5) and output.ctc_log_probs.shape == (12, 2, 13)
    losses = Tacotron2Loss(config.loss)(output, Targets(mels, mel_lengths, text_lengths, 3, text))
    assert {"ddc", "coarse_mel_l1", "ctc", "spectral", "monotonic"} <= set(losses)
    losses["total"].backward()
    assert model.coarse_decoder.mel_projection.weight.grad.abs().sum() > 0
    assert model.ctc_recognizer.output.weight.grad.abs().sum() > 0
    with pytest.raises(Exception, match="ddc_reduction_factor"):
        load_config(overrides=["model.ddc_reduction_factor=2"])  # weight missing


def fit(config, corpus, run_dir, callbacks=()):
    trainer = Trainer(config, prepare(corpus, config, progress=False), run_dir, progress=False,
                      callbacks=list(callbacks))
    trainer.fit()
    return trainer


@pytest.mark.slow
def test_nan_loss_mid_training_recovers_from_last_good_checkpoint(corpus_en, fast_config,
                                                                  tmp_path):
    class PoisonWeights(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.step == 6:  # after the step-4 checkpoint
                with torch.no_grad():
                    trainer.model.decoder.mel_projection.weight.fill_(float("nan"))

    trainer = fit(fast_config("train.max_steps=12"), corpus_en, tmp_path / "run", [PoisonWeights()])
    assert trainer.step == 12
    assert all(torch.isfinite(p).all() for p in trainer.task.model.parameters())
    assert math.isfinite(trainer.last_val_metrics["mel_l1"])
    fixes = [e for e in read_events(tmp_path / "run") if e.kind == "autofix"]
    assert [e.fields["rule"] for e in fixes] == ["nonfinite_loss"]
    fix = fixes[0]
    assert fix.step == 7 and "restored step_0000004.pt" in fix.fields["action"]
    assert fix.fields["before"] == 1.0 and fix.fields["after"] == 0.5
    assert trainer.task.controls.lr_scale == 0.5
    state = ckpt.load_checkpoint(ckpt.step_checkpoints(tmp_path / "run")[-1][1])
    assert state["controls"]["lr_scale"] == 0.5  # a resumed run keeps the lower LR


@pytest.mark.slow
def test_controller_raises_guided_weight_when_alignment_does_not_form(corpus_en, fast_config,
                                                                      tmp_path):
    config = fast_config("train.max_steps=12", "loss.guided_attention_weight=0",
                         "autofix.alignment_expected_step=4", "autofix.patience=1",
                         "autofix.cooldown_steps=100")
    trainer = fit(config, corpus_en, tmp_path / "run")
    fixes = [e for e in read_events(tmp_path / "run") if e.kind == "autofix"
             and e.fields["rule"] == "alignment_not_formed"]
    assert len(fixes) == 1 and fixes[0].step == 4  # then the cooldown holds it
    assert fixes[0].fields["before"] == {"guided_weight": 0.0, "lr_scale": 1.0}
    assert fixes[0].fields["after"] == {"guided_weight": 100.0, "lr_scale": 0.5}
    assert fixes[0].fields["observed"] < 0.9
    assert trainer.task.controls.guided_weight == 100.0


def stub_trainer(config, history=(), step=1000):
    events = []
    trainer = SimpleNamespace(config=config, controls=Controls.initial(config), step=step,
                              stop=None)
    trainer.controls.mel_l1_history = list(history)
    trainer.emit = lambda kind, **fields: events.append((kind, fields))
    trainer.request_stop = lambda reason: setattr(trainer, "stop", reason)
    return trainer, events


def test_adaptive_gate_weight_moves_within_bounds():
    config = load_config(overrides=["autofix.patience=2", "autofix.cooldown_steps=0",
                                    "autofix.max_actions=10", "autofix.gate_pos_weight_max=10"])
    controller = Controller(config)
    trainer, events = stub_trainer(config)
    trainer.controls.phase = "quality_optimization"  # the gate is judged once aligned

    def check_gate(trainer, metrics):
        apply_actions(trainer, controller.gate_rule(trainer.step, metrics, trainer.controls))

    missed = {"diagonality": 1.0, "gate_missed_rate": 0.5, "gate_early_rate": 0.0}
    check_gate(trainer, missed)
    assert trainer.controls.gate_pos_weight == 5.0  # hysteresis: one observation is not enough
    check_gate(trainer, missed)
    assert trainer.controls.gate_pos_weight == pytest.approx(7.5)
    for _ in range(6):
        check_gate(trainer, missed)
    assert trainer.controls.gate_pos_weight == 10.0  # the upper bound
    early = {"diagonality": 1.0, "gate_missed_rate": 0.0, "gate_early_rate": 0.4}
    check_gate(trainer, early)
    check_gate(trainer, early)
    assert trainer.controls.gate_pos_weight == pytest.approx(10 / 1.5)
    assert [f["rule"] for _, f in events] == ["gate_missed", "gate_missed", "gate_early"]


def test_plateau_lowers_lr_then_stops_early():
    config = load_config(overrides=["autofix.plateau_patience=3", "autofix.max_actions=2",
                                    "autofix.cooldown_steps=0"])
    controller = Controller(config)
    trainer, events = stub_trainer(config, history=[2.0, 1.5, 1.2, 1.1, 1.05])

    def check_plateau(trainer):
        apply_actions(trainer, controller.plateau_rule(trainer.step, {}, trainer.controls))

    check_plateau(trainer)
    assert events == []  # 1.05 < 1.2 * 0.995: still improving
    trainer.controls.mel_l1_history += [1.2, 1.1, 1.06]
    check_plateau(trainer)
    assert trainer.controls.lr_scale == 0.5
    check_plateau(trainer)  # the window restarts after an action: no new validations yet
    assert trainer.controls.lr_scale == 0.5
    trainer.controls.mel_l1_history += [1.07, 1.08, 1.06]
    check_plateau(trainer)
    assert trainer.controls.lr_scale == 0.25 and trainer.stop is None
    trainer.controls.mel_l1_history += [1.07, 1.08, 1.06]
    check_plateau(trainer)
    assert trainer.stop == "early_stop"
    assert [f["action"] for _, f in events][-1] == "early stop"


def test_plateau_waits_its_patience_after_each_action():
    """With the defaults (patience 5, cooldown 500 steps) a flat run is cut once per 5
    validations, not at every validation once the first cut is made."""
    config = load_config()  # validations 1000 steps apart: beyond the cooldown
    controller = Controller(config)
    trainer, events = stub_trainer(config, history=[2.0])
    cuts = []
    for validation in range(1, 16):
        trainer.controls.mel_l1_history.append(2.0)  # no improvement at all
        trainer.step = 1000 * validation
        actions = controller.plateau_rule(trainer.step, {}, trainer.controls)
        apply_actions(trainer, actions)
        cuts += [validation for a in actions if a.changes.get("lr_scale")]
    assert cuts == [5, 10, 15]
    assert trainer.controls.lr_scale == pytest.approx(0.125)


@pytest.mark.slow
def test_plan_explains_its_estimate(corpus_en, fast_config):
    from tacotron.training.duration_plan import MIN_STEPS, epochs_for, plan_training

    assert epochs_for(24.0) == pytest.approx(500.0) and epochs_for(6.0) == pytest.approx(1000.0)
    plan = plan_training(corpus_en, fast_config(), probe_steps=2, progress=False)
    prepared = prepare(corpus_en, fast_config(), progress=False)
    hours = sum(u.frames for u in prepared.train) * 256 / 22050 / 3600
    assert plan.hours == pytest.approx(hours) and plan.utterances == len(prepared.train)
    assert plan.batch_size == 4 and plan.device == "cpu"
    assert plan.epochs == 5000  # 40 s of audio: the epoch cap
    assert plan.max_steps == 5000 * 15 // 4 > MIN_STEPS
    assert plan.val_every_steps == 200 and plan.seconds_per_step > 0  # 187.5 -> 200
    text = plan.explain()
    assert "train with: train.batch_size=4 train.max_steps=18750" in text
    assert "epochs = min(5000" in text


@pytest.mark.slow
def test_diagnose_writes_a_report_with_alignments_failures_and_events(corpus_en, fast_config,
                                                                       tmp_path):
    from tacotron.cli import main

    fit(fast_config("train.max_steps=4"), corpus_en, tmp_path / "run")
    code = main(["diagnose", str(tmp_path / "run"), "--data", str(corpus_en),
                 "--out", str(tmp_path / "report"), "--sentences", "2",
                 "inference.max_frames_per_symbol=4"])
    assert code == 0
    page = (tmp_path / "report/diagnosis.html").read_text(encoding="utf-8")
    validation = len(prepare(corpus_en, fast_config(), progress=False).val)
    assert page.count("<h3>validation: ") == validation and page.count("<h3>held-out: ") == 2
    assert page.count("data:image/png;base64,") == validation + 2
    # an untrained model fails quality control, and the page says why
    assert "the gate never fired" in page or "coverage" in page
    assert "train_start" in page and "train_end" in page


def test_a_phase_moved_by_the_controller_is_a_phase_event():
    """The alignment correction sends an aligned run back to alignment_learning; that move is
    told like any other phase change (before, it happened silently)."""
    config = load_config(overrides=["autofix.patience=1", "autofix.alignment_expected_step=0"])
    controller = Controller(config)
    trainer, events = stub_trainer(config)
    trainer.controls.phase = "fine_tuning"
    low = {"diagonality": 0.3}
    apply_actions(trainer, controller.alignment_rule(trainer.step, low, trainer.controls))
    assert trainer.controls.phase == "alignment_learning" and trainer.controls.phase_start == 1000
    told = [(kind, fields.get("to") or fields.get("rule")) for kind, fields in events]
    assert told == [("alert", "alignment_not_formed"), ("phase", "alignment_learning"),
                    ("autofix", "alignment_not_formed")]


def test_callbacks_see_a_read_only_view_that_can_ask_to_stop():
    from tacotron.training.loop import RunLoopView

    config = load_config()
    stopped = []
    loop = SimpleNamespace(config=config, step=7, last_val_metrics={"mel_l1": 1.0},
                           task=SimpleNamespace(controls=Controls.initial(config)),
                           request_stop=stopped.append)
    view = RunLoopView(loop)
    view.config.train.max_steps = 1
    view.last_val_metrics["mel_l1"] = 0.0
    view.controls.lr_scale = 0.0
    assert config.train.max_steps != 1 and loop.last_val_metrics == {"mel_l1": 1.0}
    assert loop.task.controls.lr_scale == 1.0
    with pytest.raises(AttributeError):
        view.step = 8
    assert view.step == 7
    view.request_stop("early_stop")
    assert stopped == ["early_stop"]
