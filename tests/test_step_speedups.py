"""The training step's speed-ups outside the decoder loop keep the model's semantics: cheap dropout
masks (model/dropout.py), the encoder BiLSTM over the padded batch (model/tacotron2.py
padded_bilstm), the fused Adam (training/trainer.py adam)."""

import pytest
import torch
from torch import nn

from tacotron.config import ModelConfig, TrainConfig
from tacotron.model.dropout import BitDropout, bit_dropout
from tacotron.model.tacotron2 import Encoder, Tacotron2
from tacotron.training.trainer import adam


def test_half_dropout_keeps_half_the_elements_scaled_by_two():
    torch.manual_seed(0)
    x = torch.randn(16, 128, 500)
    y = bit_dropout(x, 0.5, training=True)
    ratio = y / x
    kept = ratio == 2.0
    assert bool((kept | (ratio == 0.0)).all())  # inverted dropout: x / (1 - p) or 0
    assert abs(kept.float().mean().item() - 0.5) < 0.005  # 1M draws: standard error 0.0005
    # Neighbouring elements come from neighbouring bits of one word: they must be independent.
    flat = kept.flatten().float()
    assert abs((flat[1:] == flat[:-1]).float().mean().item() - 0.5) < 0.005
    assert abs((flat[8:] == flat[:-8]).float().mean().item() - 0.5) < 0.005


def test_other_dropout_rates_keep_one_minus_p_scaled():
    torch.manual_seed(0)
    x = torch.ones(1000, 1000)
    y = bit_dropout(x, 0.2, training=True)
    assert bool(((y == 0.0) | torch.isclose(y, torch.tensor(1.25))).all())
    assert abs((y > 0).float().mean().item() - 0.8) < 0.005
    assert bool((bit_dropout(x, 1.0, training=True) == 0).all())


def test_dropout_is_the_identity_outside_training_and_seeded_inside():
    x = torch.randn(4, 8, 33)
    assert bit_dropout(x, 0.5, training=False) is x
    layer = BitDropout(0.5).eval()
    assert layer(x) is x
    layer.train()
    torch.manual_seed(3)
    first = layer(x)
    torch.manual_seed(3)
    assert torch.equal(first, layer(x))


def test_dropout_gradient_is_the_mask():
    torch.manual_seed(1)
    x = torch.randn(3, 5, 70, requires_grad=True)
    y = bit_dropout(x, 0.5, training=True)
    y.sum().backward()
    assert torch.equal(x.grad, (y.detach() / x.detach()).nan_to_num())


def test_dropout_modules_add_no_state():
    """Checkpoints of models built with nn.Dropout load unchanged."""
    model = Tacotron2(ModelConfig(embedding_dim=16, encoder_dim=16, attention_rnn_dim=16,
                                  decoder_rnn_dim=16, prenet_dims=[8, 8], postnet_channels=8),
                      n_symbols=10, n_mels=8)
    keys = set(model.state_dict())
    assert "encoder.convolutions.0.0.weight" in keys and "postnet.layers.0.0.weight" in keys
    assert not any("dropout" in key for key in keys)


def encoder_outputs_and_gradients(encoder, x, lengths, padded: bool):
    encoder.padded_lstm_on_cpu = padded
    encoder.zero_grad()
    x = x.detach().requires_grad_()
    y = encoder(x, lengths)
    weights = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(1))
    (y * weights).sum().backward()
    return y.detach(), x.grad, {name: p.grad.clone() for name, p in encoder.named_parameters()}


def test_padded_bilstm_equals_the_packed_run():
    """Outputs (zeros on padding), input and weight gradients, in float64, train mode (dropout
    switched off so that both runs see the same activations)."""
    torch.manual_seed(0)
    encoder = Encoder(ModelConfig(embedding_dim=12, encoder_dim=16, encoder_dropout=0.0)).double()
    x = torch.randn(6, 12, 13, dtype=torch.float64)
    lengths = torch.tensor([13, 1, 7, 12, 4, 13])
    padded = encoder_outputs_and_gradients(encoder, x, lengths, padded=True)
    packed = encoder_outputs_and_gradients(encoder, x, lengths, padded=False)
    torch.testing.assert_close(padded[0], packed[0], rtol=1e-12, atol=1e-12)
    assert bool((padded[0][1, 1:] == 0).all())
    torch.testing.assert_close(padded[1], packed[1], rtol=1e-12, atol=1e-12)
    for name in packed[2]:
        torch.testing.assert_close(padded[2][name], packed[2][name], rtol=1e-10, atol=1e-12)


def test_fused_adam_steps_like_the_loop():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(7, 9), nn.Tanh(), nn.Linear(9, 3))
    copy = nn.Sequential(nn.Linear(7, 9), nn.Tanh(), nn.Linear(9, 3))
    copy.load_state_dict(net.state_dict())
    train = TrainConfig(learning_rate=1e-2, weight_decay=1e-6)
    fused = adam(net.parameters(), train)
    assert fused.param_groups[0]["fused"]
    loop = torch.optim.Adam(copy.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=1e-6)
    for _ in range(5):
        x = torch.randn(4, 7)
        for model, optimizer in ((net, fused), (copy, loop)):
            optimizer.zero_grad()
            model(x).pow(2).sum().backward()
            optimizer.step()
    for a, b in zip(net.parameters(), copy.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_resumed_optimizer_keeps_the_fused_kernel():
    """A checkpoint of the per-tensor Adam, loaded into the fused one, keeps the fused kernel and
    makes the same update as the per-tensor Adam resumed from it."""
    import copy

    from tacotron.training.optimizers import load_optimizer_state

    torch.manual_seed(0)
    weights = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    plain = torch.optim.Adam(weights, lr=1e-2, eps=1e-6)
    for _ in range(3):
        plain.zero_grad()
        sum((w ** 2).sum() for w in weights).backward()
        plain.step()
    saved = copy.deepcopy(plain.state_dict())  # as read from a checkpoint file: no shared tensors
    resumed = [torch.nn.Parameter(w.detach().clone()) for w in weights]
    fused = adam(resumed, TrainConfig(learning_rate=1e-2))
    if not fused.param_groups[0].get("fused"):
        pytest.skip("this torch has no fused Adam on this device")
    load_optimizer_state(fused, saved)
    assert fused.param_groups[0]["fused"] is True
    for optimizer, params in ((plain, weights), (fused, resumed)):
        optimizer.zero_grad()
        sum((w ** 2).sum() for w in params).backward()
        optimizer.step()
    for a, b in zip(weights, resumed):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
