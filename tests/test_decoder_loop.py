"""The fused decoder training loop (model/decoder_loop.py) against the step-by-step autograd loop
(Decoder.fused_training = False), in float64 with the same seed, so the same dropout masks."""

import pytest
import torch

from tacotron.config import load_config
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


def run(model, config, fused: bool, teacher_forcing_ratio: float, with_speakers: bool):
    """Outputs and parameter gradients of one training step's loss."""
    for decoder in (model.decoder, model.coarse_decoder):
        if decoder is not None:
            decoder.fused_training = fused
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
