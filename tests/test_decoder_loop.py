"""The fused decoder training loop (model/decoder_loop.py) against the step-by-step autograd loop
(Decoder.fused_training = False), in float64 with the same seed: with the reference's own dropout
draws (Decoder.cheap_masks = False), and with the loop's cheap masks replayed into the reference."""

import pytest
import torch

from tacotron.config import load_config
from tacotron.model import decoder_loop
from tacotron.model.dropout import scaled_keep_mask
from tacotron.model.losses import LossWeights, Tacotron2Loss, Targets
from tacotron.model.tacotron2 import Tacotron2

N_MELS, N_SYMBOLS = 10, 20


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def small_model(*overrides: str, device: str = "cpu") -> tuple[Tacotron2, object]:
    torch.manual_seed(0)
    config = load_config("cpu-tiny", overrides=[
        "model.reduction_factor=2", "model.embedding_dim=16", "model.encoder_dim=16",
        "model.prenet_dims=[12,12]", "model.attention_rnn_dim=24", "model.decoder_rnn_dim=20",
        "model.attention_dim=8", "model.location_filters=4", "model.location_kernel_size=5",
        "model.postnet_channels=16", *overrides])
    model = Tacotron2(config.model, N_SYMBOLS, N_MELS, n_speakers=3).double().train().to(device)
    for decoder in (model.decoder, model.coarse_decoder):
        if decoder is not None:  # standardized frames, as training sets them
            decoder.set_mel_statistics(torch.linspace(-6, -2, N_MELS, dtype=torch.float64, device=device),
                                       torch.linspace(0.5, 2, N_MELS, dtype=torch.float64, device=device))
    return model, config


def batch(with_speakers: bool, device: str = "cpu"):
    generator = torch.Generator().manual_seed(1)
    text_lengths = torch.tensor([9, 6, 4])
    text = torch.randint(1, N_SYMBOLS, (3, 9), generator=generator)
    text[1, 6:] = text[2, 4:] = 0
    mel_lengths = torch.tensor([24, 17, 11])
    mels = torch.randn(3, N_MELS, 24, generator=generator, dtype=torch.float64) - 4
    for row, length in enumerate(mel_lengths):
        mels[row, :, length:] = -11.5  # padded with silence
    speakers = torch.tensor([0, 2, 1]) if with_speakers else None
    tensors = (text, text_lengths, mels, mel_lengths, speakers)
    return tuple(None if x is None else x.to(device) for x in tensors)


def run(model, config, fused: bool, teacher_forcing_ratio: float, with_speakers: bool,
        cheap_masks: bool = False):
    """Outputs and parameter gradients of one training step's loss."""
    for decoder in (model.decoder, model.coarse_decoder):
        if decoder is not None:
            decoder.fused_training = fused
            decoder.cheap_masks = cheap_masks
    model.zero_grad(set_to_none=True)
    device = str(model.decoder.mel_mean.device.type)
    text, text_lengths, mels, mel_lengths, speakers = batch(with_speakers, device)
    torch.manual_seed(123)  # the same dropout masks and free-running draws on both paths
    output = model(text, text_lengths, mels, mel_lengths, teacher_forcing_ratio, speakers)
    losses = Tacotron2Loss(config.loss)(output, Targets(mels, mel_lengths, text_lengths, 2, text),
                                        LossWeights(300.0, 0.2, 5.0))
    losses["total"].backward()
    loop = type(output.alignments.grad_fn).__name__
    assert loop == ("DecoderLoopBackward" if fused else "StackBackward0"), loop
    outputs = {"mel": output.mel, "gate": output.gate_logits, "alignments": output.alignments}
    if output.mel_coarse is not None:
        outputs.update(mel_coarse=output.mel_coarse, alignments_coarse=output.alignments_coarse)
    gradients = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach().clone() for k, v in outputs.items()}, gradients


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("teacher_forcing_ratio, with_speakers, ddc", [
    (1.0, False, 0), (0.5, False, 0), (1.0, True, 4), (0.6, True, 4)])
def test_fused_loop_equals_reference(teacher_forcing_ratio, with_speakers, ddc, device):
    overrides = [f"model.speaker_dim={4 if with_speakers else 0}", f"model.ddc_reduction_factor={ddc}",
                 f"loss.ddc_alignment_weight={1.0 if ddc else 0.0}"]
    model, config = small_model(*overrides, device=device)
    reference_outputs, reference_grads = run(model, config, False, teacher_forcing_ratio, with_speakers)
    fused_outputs, fused_grads = run(model, config, True, teacher_forcing_ratio, with_speakers)
    # Again: the second run reads buffers the first handed back (model/decoder_loop.py Workspace).
    again_outputs, again_grads = run(model, config, True, teacher_forcing_ratio, with_speakers)
    for name in fused_grads:
        torch.testing.assert_close(again_grads[name], fused_grads[name], rtol=0, atol=0, msg=name)
    for name, expected in reference_outputs.items():
        torch.testing.assert_close(fused_outputs[name], expected, rtol=1e-9, atol=1e-10, msg=name)
    assert fused_grads.keys() == reference_grads.keys()
    decoder_params = [name for name in reference_grads if "decoder." in name]
    assert any("attention.location_conv" in name for name in decoder_params)
    for name, expected in reference_grads.items():
        # Measured: within 7e-15 of the largest gradient entry (conv biases before BatchNorm
        # have gradients of ~1e-17 that are rounding noise on both paths).
        torch.testing.assert_close(fused_grads[name], expected, rtol=1e-9, atol=1e-12, msg=name)


def test_fused_loop_only_in_training_with_grad():
    """Evaluation and no-grad forwards take the reference loop (same numbers either way)."""
    model, config = small_model("model.speaker_dim=0", "model.ddc_reduction_factor=0")
    model.eval()
    text, text_lengths, mels, mel_lengths, _ = batch(False)
    with torch.no_grad():
        torch.manual_seed(5)  # the prenet's dropout stays on
        fused = model(text, text_lengths, mels, mel_lengths)
        model.decoder.fused_training = False
        torch.manual_seed(5)
        reference = model(text, text_lengths, mels, mel_lengths)
    torch.testing.assert_close(fused.mel, reference.mel, rtol=0, atol=0)


@pytest.mark.parametrize("teacher_forcing_ratio", [1.0, 0.5])
def test_fused_loop_with_its_own_masks_equals_reference(teacher_forcing_ratio, monkeypatch):
    """The cheap masks (drawn before the loop from random bits) replayed, in the reference's order,
    into the reference's F.dropout calls: the same outputs and gradients."""
    model, config = small_model("model.speaker_dim=0", "model.ddc_reduction_factor=0",
                                "loss.ddc_alignment_weight=0.0")
    drawn = []
    draw = decoder_loop.draw_loop_masks
    monkeypatch.setattr(decoder_loop, "draw_loop_masks",
                        lambda *args: drawn.append(draw(*args)) or drawn[-1])
    fused_outputs, fused_grads = run(model, config, True, teacher_forcing_ratio, False, cheap_masks=True)
    assert len(drawn) == 1
    masks = drawn[0]
    config_model = config.model
    for mask, p in [(masks.prenet[0], config_model.prenet_dropout),
                    (masks.prenet[1], config_model.prenet_dropout),
                    (masks.attention, config_model.attention_dropout),
                    (masks.decoder, config_model.decoder_dropout)]:
        assert set(mask.unique().tolist()) <= {0.0, 1 / (1 - p)}
    steps = masks.attention.size(0)
    if teacher_forcing_ratio == 1.0:  # the prenet runs once over all steps, then each step's two
        queue = [mask.transpose(0, 1) for mask in masks.prenet]
        queue += [mask for t in range(steps) for mask in (masks.attention[t], masks.decoder[t])]
    else:  # the prenet runs per step on the frame chosen then
        queue = [mask for t in range(steps)
                 for mask in (masks.prenet[0][t], masks.prenet[1][t], masks.attention[t], masks.decoder[t])]

    def replay(x, p=0.5, training=True, inplace=False):
        mask = queue.pop(0)
        assert mask.shape == x.shape
        return x * mask

    # The free-running draws (torch.rand per step) follow the masks' draw in the fused run: the
    # reference draws the same masks first (and ignores them) to leave the generator where it was.
    decoder = model.decoder
    initial_state = decoder.initial_state
    monkeypatch.setattr(decoder, "initial_state",
                        lambda memory: draw(decoder, steps, memory.size(0), memory) and initial_state(memory))
    monkeypatch.setattr(torch.nn.functional, "dropout", replay)
    reference_outputs, reference_grads = run(model, config, False, teacher_forcing_ratio, False)
    assert queue == []
    for name, expected in reference_outputs.items():
        torch.testing.assert_close(fused_outputs[name], expected, rtol=1e-9, atol=1e-10, msg=name)
    for name, expected in reference_grads.items():
        torch.testing.assert_close(fused_grads[name], expected, rtol=1e-9, atol=1e-12, msg=name)


def test_cheap_mask_keep_rate():
    """Bits at p = 0.5, 16-bit thresholds at other p: the kept share is 1 - p (1e6 draws: the
    binomial standard deviation is 3e-4), scaled by 1 / (1 - p)."""
    torch.manual_seed(0)
    for p in (0.5, 0.1, 0.3):
        mask = scaled_keep_mask(torch.empty(1000, 1000), p)
        assert abs((mask > 0).double().mean().item() - (1 - p)) < 2e-3
        assert mask.unique().tolist() == pytest.approx([0.0, 1 / (1 - p)])
