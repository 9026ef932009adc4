import math

import pytest
import torch

from tacotron.config import LossConfig, load_config
from tacotron.model.alignment_metrics import diagonality, focus_rate, monotonicity, score_batch
from tacotron.model.losses import (Tacotron2Loss, Targets, adversarial_mel_loss, discriminator_loss,
                                   gate_loss, gate_scores, gate_targets, guided_attention_loss,
                                   guided_attention_weights, masked_mel_losses)
from tacotron.model.mel_discriminator import MelDiscriminator, matched_crops
from tacotron.model.tacotron2 import Tacotron2, lengths_to_mask


def tiny_model(r=2, seed=0):
    torch.manual_seed(seed)
    config = load_config("cpu-tiny", overrides=[
        f"model.reduction_factor={r}", "model.embedding_dim=16", "model.encoder_dim=16",
        "model.prenet_dims=[16,16]", "model.attention_rnn_dim=32", "model.decoder_rnn_dim=32",
        "model.attention_dim=8", "model.location_filters=4", "model.postnet_channels=16"])
    return Tacotron2(config.model, n_symbols=20, n_mels=8), config


def diagonal_alignment(steps, symbols):
    a = torch.zeros(steps, symbols)
    for t in range(steps):
        a[t, min(symbols - 1, int(t * symbols / steps))] = 1.0
    return a


def test_metrics_on_perfect_diagonal():
    a = diagonal_alignment(40, 20)
    assert diagonality(a) == pytest.approx(1.0)
    assert focus_rate(a) == pytest.approx(1.0)
    assert monotonicity(a) == pytest.approx(1.0)


def test_metrics_on_uniform_and_reversed_attention():
    uniform = torch.full((30, 10), 0.1)
    assert focus_rate(uniform) == pytest.approx(0.1)
    # A band of +-0.15 around the diagonal holds 3 of 10 columns on average.
    assert 0.2 < diagonality(uniform) < 0.4
    reversed_ = diagonal_alignment(10, 10).flip(1)  # the peak moves back one symbol each step
    assert monotonicity(reversed_) == 0.0
    assert diagonality(reversed_) < 0.3


def test_monotonicity_counts_jumps_over_three_as_breaks():
    a = torch.zeros(4, 20)
    a[0, 0] = a[1, 3] = a[2, 10] = a[3, 10] = 1.0  # moves +3 (ok), +7 (jump), 0 (ok)
    assert monotonicity(a) == pytest.approx(2 / 3)


def test_score_batch_cuts_to_valid_lengths():
    alignments = torch.zeros(2, 40, 20)
    alignments[0, :40, :20] = diagonal_alignment(40, 20)
    alignments[1, :24, :12] = diagonal_alignment(24, 12)
    alignments[1, 24:, :] = 1 / 20  # padding garbage must be ignored
    alignments[1, :, 12:] = 0.5
    scores = score_batch(alignments, torch.tensor([40, 24]), torch.tensor([20, 12]))
    assert [s.diagonality for s in scores] == pytest.approx([1.0, 1.0])


def test_masked_mel_losses_ignore_padding():
    target = torch.randn(2, 8, 12)
    prediction = target + 0.5
    mask = lengths_to_mask(torch.tensor([12, 6]), 12)
    mse, l1 = masked_mel_losses(prediction, target, mask)
    assert float(mse) == pytest.approx(0.25)
    assert float(l1) == pytest.approx(0.5)
    prediction[1, :, 6:] += 100.0  # padding of the second item
    assert masked_mel_losses(prediction, target, mask)[1] == pytest.approx(0.5)


def test_matched_crops_take_the_same_valid_window_from_prediction_and_recording():
    torch.manual_seed(0)
    target = torch.randn(3, 8, 40)
    prediction = target + 0.25
    lengths = torch.tensor([40, 30, 20])
    prediction[1, :, 30:] = float("nan")  # padding: never inside a crop
    prediction[2, :, 20:] = float("nan")
    for _ in range(20):
        predicted, recorded = matched_crops(prediction, target, lengths, crop_frames=16)
        assert predicted.shape == recorded.shape == (3, 8, 16)
        assert torch.allclose(predicted - recorded, torch.full_like(recorded, 0.25))
    # The window shrinks to the shortest utterance rather than reading its padding.
    predicted, recorded = matched_crops(prediction, target, lengths, crop_frames=64)
    assert predicted.shape == (3, 8, 20) and not predicted.isnan().any()


def test_least_squares_gan_terms():
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    # The discriminator's loss: 0 when it calls recordings 1 and predictions 0, 2 when it is fooled.
    assert float(discriminator_loss(ones, zeros)) == 0.0
    assert float(discriminator_loss(zeros, ones)) == 2.0
    features = [torch.randn(2, 3, 4, 4), torch.randn(2, 3, 2, 2)]
    # The model's term: 0 when the prediction is called real and its features match the recording's.
    assert float(adversarial_mel_loss(ones, features, features)) == 0.0
    shifted = [f + 0.5 for f in features]
    assert float(adversarial_mel_loss(zeros, features, shifted)) == pytest.approx(1.0 + 0.5)


def test_the_discriminator_reads_standardized_patches_and_its_gradient_reaches_the_prediction():
    torch.manual_seed(0)
    discriminator = MelDiscriminator(n_mels=8, channels=4)
    mean, std = torch.linspace(-8, 0, 8), torch.linspace(1, 3, 8)
    discriminator.set_mel_statistics(mean, std)
    standard = torch.randn(2, 8, 16)
    logits, features = discriminator(standard * std[:, None] + mean[:, None])
    reference = MelDiscriminator(n_mels=8, channels=4)
    reference.load_state_dict({**discriminator.state_dict(), "mel_mean": torch.zeros(8), "mel_std": torch.ones(8)})
    assert torch.allclose(logits, reference(standard)[0], atol=1e-5)
    assert logits.shape == (2, 1, 2, 4) and len(features) == 4
    prediction = torch.randn(2, 8, 16, requires_grad=True)
    adversarial_mel_loss(*discriminator(prediction)[:1], discriminator(standard)[1], discriminator(prediction)[1]).backward()
    assert prediction.grad.abs().sum() > 0


def test_gate_targets_and_loss_mask():
    targets = gate_targets(torch.tensor([3, 5]), 5)
    assert targets.tolist() == [[0, 0, 1, 0, 0], [0, 0, 0, 0, 1]]
    logits = torch.tensor([[-9.0, -9.0, 9.0, 50.0, -50.0], [-9.0, -9.0, -9.0, -9.0, 9.0]])
    assert float(gate_loss(logits, torch.tensor([3, 5]), pos_weight=5.0)) < 1e-3


def test_gate_scores_accuracy_and_stop_error():
    lengths = torch.tensor([4, 5])
    logits = torch.full((2, 6), -9.0)
    logits[0, 3] = 9.0  # stops exactly on its last step
    logits[1, 1] = 9.0  # fires at step 1 of 5: stops 3 steps early; steps 1 and 4 are wrong
    logits[0, 5] = 9.0  # padding: ignored
    scores = gate_scores(logits, lengths)
    assert scores.accuracy.tolist() == pytest.approx([1.0, 3 / 5])
    assert scores.stop_error.tolist() == pytest.approx([0.0, 3 / 5])
    assert scores.early.tolist() == [False, True] and scores.missed.tolist() == [False, False]
    never = gate_scores(torch.full((1, 4), -9.0), torch.tensor([4]))
    assert never.accuracy.item() == pytest.approx(3 / 4)
    assert never.stop_error.item() == pytest.approx(1 / 4) and never.missed.item()


def test_guided_attention_weights_formula():
    w = guided_attention_weights(torch.tensor([4]), torch.tensor([8]), 6, 10, sigma=0.2)
    n, t = 3, 2
    expected = 1 - math.exp(-((n / 4 - t / 8) ** 2) / (2 * 0.2**2))
    assert float(w[0, t, n]) == pytest.approx(expected)
    assert float(w[0, 4, 2]) == pytest.approx(0.0)  # on the diagonal n/N == t/T
    assert float(w[0, 8:, :].abs().sum()) == 0.0 and float(w[0, :, 4:].abs().sum()) == 0.0


def test_guided_attention_loss_prefers_diagonal_and_normalises_by_cells():
    text_lengths, step_lengths = torch.tensor([10]), torch.tensor([30])
    good = diagonal_alignment(30, 10)[None]
    bad = diagonal_alignment(30, 10).flip(1)[None]
    good_loss = guided_attention_loss(good, text_lengths, step_lengths, 0.2)
    bad_loss = guided_attention_loss(bad, text_lengths, step_lengths, 0.2)
    assert float(good_loss) < 0.01 < float(bad_loss)
    w = guided_attention_weights(text_lengths, step_lengths, 10, 30, 0.2)
    assert float(bad_loss) == pytest.approx(float((bad * w).sum() / 300))


def test_model_shapes_and_teacher_forcing_is_causal():
    model, config = tiny_model(r=2)
    model.eval()
    text = torch.randint(2, 20, (2, 7))
    mels = torch.randn(2, 8, 12)
    lengths = torch.tensor([7, 5])
    torch.manual_seed(1)
    full = torch.tensor([12, 12])
    out = model(text, lengths, mels, full)
    assert out.mel.shape == (2, 8, 12) and out.gate_logits.shape == (2, 6)
    assert out.alignments.shape == (2, 6, 7)
    assert torch.allclose(out.alignments.sum(-1), torch.ones(2, 6), atol=1e-5)
    assert float(out.alignments[1, :, 5:].detach().abs().max()) == 0.0  # no attention on padding
    # Step i is fed frame i*r - 1: changing frames 9..11 can only change steps 5 (frame 9 is
    # the input of step 5), never steps 0..4.
    changed = mels.clone()
    changed[:, :, 9:] += 3.0
    torch.manual_seed(1)
    out2 = model(text, lengths, changed, full)
    assert torch.allclose(out.mel[:, :, :10], out2.mel[:, :, :10], atol=1e-6)


def test_infer_respects_length_cap_and_reports_it():
    model, _ = tiny_model(r=3)
    model.eval()
    with torch.no_grad():
        model.decoder.gate_projection.bias.fill_(-20.0)  # gate never fires
        out = model.infer(torch.randint(2, 20, (2, 5)), torch.tensor([5, 4]),
                          max_frames=torch.tensor([9, 30]), gate_threshold=0.5)
    assert out.mel_lengths.tolist() == [9, 30]
    assert out.stopped_by_gate.tolist() == [False, False]
    with torch.no_grad():
        model.decoder.gate_projection.bias.fill_(20.0)  # gate fires at once
        out = model.infer(torch.randint(2, 20, (1, 5)), torch.tensor([5]),
                          max_frames=torch.tensor([30]), gate_threshold=0.5)
    assert out.mel_lengths.tolist() == [3] and out.stopped_by_gate.tolist() == [True]


def test_total_loss_includes_weighted_guided_attention():
    model, config = tiny_model(r=2)
    text = torch.randint(2, 20, (2, 7))
    mels = torch.randn(2, 8, 12)
    targets = Targets(mels, torch.tensor([12, 9]), torch.tensor([7, 5]), 2)
    torch.manual_seed(0)
    output = model(text, targets.text_lengths, mels, targets.mel_lengths)
    with_ga = Tacotron2Loss(LossConfig(guided_attention_weight=3.0))(output, targets)
    without = Tacotron2Loss(LossConfig(guided_attention_weight=0.0))(output, targets)
    assert "guided_attention" not in without
    difference = (with_ga["total"] - without["total"]).item()
    assert difference == pytest.approx(
        3.0 * with_ga["guided_attention"].item(), rel=1e-5)
    with_ga["total"].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
