"""The Tacotron 2 decoder's training loop as one autograd Function (`fused_decoder_loop`).

Run step by step under autograd, the loop records about 60 small operations per decoder step and
replays them backward one by one; at cpu-tiny sizes that bookkeeping, not arithmetic, is most of
a training step. Here the forward runs the loop without recording (saving what backward needs in
preallocated [steps, ...] buffers) and the backward is a hand-written backpropagation through time
(Werbos 1990, "Backpropagation Through Time: What It Does and How to Do It"): in reverse over
the steps it carries only the gradients of the recurrent state, and every weight gradient is one
large matrix product over all steps after the loop, as cuDNN does for its LSTMs.

The model and its semantics are `Decoder.step` / `Decoder.forward`'s (tacotron2.py), which stay the
reference path: dropout on both LSTMs' hidden states, the prenet's always-on dropout, masked
padding symbols, and free-running inputs (teacher_forcing_ratio < 1). On CPU the loop's dropout
masks (prenet, both LSTMs' hidden states) are drawn before it, all steps at once, from random bits
(`draw_loop_masks`, `Decoder.cheap_masks`): per step, F.dropout's Bernoulli draws cost more than
the step's arithmetic around them. With `cheap_masks = False` (and on CUDA) they are drawn by
`F.dropout` on a tensor of ones of the same shape, in the same order as the reference, so for one
seed both paths draw the same masks. tests/test_decoder_loop.py checks outputs and gradients, with
the reference's masks and with the loop's own replayed into the reference.

Shapes: B utterances, T decoder steps, N symbols, D memory channels, P prenet output, H1 attention
LSTM, H2 decoder LSTM, A attention dim, K location kernel.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tacotron.model.dropout import scaled_keep_mask


@dataclass(frozen=True)
class LoopSettings:
    """What the loop needs besides tensors (hashable: a Function input that is no tensor)."""

    steps: int
    attention_dropout: float
    decoder_dropout: float
    prenet_dropout: float
    teacher_forcing_ratio: float
    reduction_factor: int
    n_mels: int


@dataclass(frozen=True, eq=False)
class LoopMasks:
    """Scaled keep masks (m / (1 - p)) of one training loop, [T, B, size] each; None where p = 0."""

    prenet: list[torch.Tensor]
    attention: torch.Tensor | None
    decoder: torch.Tensor | None


def draw_loop_masks(decoder, steps: int, batch: int, like: torch.Tensor) -> LoopMasks:
    """Every dropout mask of a training loop over `steps` steps, each from one draw of random bits.
    Measured per step of cpu-tiny (74 steps, batch 16, one thread): the prenet's two masks 7.9 ms
    by F.dropout, 0.3 ms as bits (p = 0.5); the two LSTMs' 148 per-step F.dropout draws 6.2 ms, one
    16-bit draw each 2.4 ms (p = 0.1)."""
    config = decoder.config

    def masks(size: int, p: float) -> torch.Tensor | None:
        return scaled_keep_mask(like.new_empty(steps, batch, size), p) if p > 0 else None

    return LoopMasks(
        prenet=[masks(layer.out_features, decoder.prenet.dropout) for layer in decoder.prenet.layers],
        attention=masks(config.attention_rnn_dim, config.attention_dropout),
        decoder=masks(config.decoder_rnn_dim, config.decoder_dropout))


class Workspace:
    """Buffers handed from one training step's loop to the next. The loop saves ~50 MB per batch
    at cpu-tiny sizes; freshly allocated, each page of it faults on first write (measured ~100 us
    per decoder step on this project's CPU), so a backward hands its buffers back for the next
    forward. A buffer is reused only once handed back, never while a graph may still read it."""

    def __init__(self, limit: int = 64):
        self.free: list[torch.Tensor] = []
        self.limit = limit

    def take(self, taken: list[torch.Tensor], like: torch.Tensor, *shape: int,
             zero: bool = False) -> torch.Tensor:
        """A [shape] tensor of `like`'s dtype and device (zeros if `zero`); its storage is appended
        to `taken`, to be given back after backward."""
        numel = math.prod(shape)
        fitting = [index for index, flat in enumerate(self.free)
                   if flat.numel() >= numel and flat.dtype == like.dtype and flat.device == like.device]
        if fitting:
            flat = self.free.pop(min(fitting, key=lambda index: self.free[index].numel()))
        else:  # a quarter more than asked: the next batch is often a little longer
            flat = like.new_empty(numel + numel // 4)
        taken.append(flat)
        tensor = flat[:numel].view(shape)
        return tensor.zero_() if zero else tensor

    def give_back(self, taken: list[torch.Tensor]) -> None:
        # Only CPU memory is kept: CUDA's caching allocator already reuses its blocks.
        self.free.extend(flat for flat in taken if flat.device.type == "cpu")
        taken.clear()
        if len(self.free) > self.limit:  # keep the largest (shapes change from batch to batch)
            self.free = sorted(self.free, key=lambda flat: flat.numel())[-self.limit:]


workspaces = threading.local()


def workspace() -> Workspace:
    if not hasattr(workspaces, "pool"):
        workspaces.pool = Workspace()
    return workspaces.pool


class LstmSteps:
    """One LSTM cell unrolled over the loop (Hochreiter & Schmidhuber 1997; gate order i, f, g, o
    as torch.nn.LSTMCell): per step the forward writes c and h and, while they are in cache, what
    the backward multiplies by: d loss / d gates = [g_c, g_c, g_c, g_h] * partner[t] with
    partner = [g i(1-i), c_{t-1} f(1-f), i (1-g^2), tanh(c) o(1-o)], and
    g_c = g_c(t+1) * f + g_h * slope[t] with slope = o (1 - tanh(c)^2)."""

    def __init__(self, pool: Workspace, taken: list, like: torch.Tensor, steps: int, batch: int, size: int):
        self.size = size
        self.cells = pool.take(taken, like, steps + 1, batch, size, zero=True)  # cells[0]: initial
        self.activations = pool.take(taken, like, steps, batch, 4 * size)
        self.partner = pool.take(taken, like, steps, batch, 4 * size)
        self.slope = pool.take(taken, like, steps, batch, size)
        self.cell_tanh = like.new_empty(batch, size)
        self.ones = like.new_ones(batch, size)
        # Each step's views, made by one unbind per buffer: indexing a tensor in the loop costs
        # 1.5-4.5 us a view (measured), a list ~0.05 us, and the loop takes ~25 views a step.
        gate = lambda buffer, k: buffer[:, :, k * size:(k + 1) * size].unbind(0)  # noqa: E731
        self.cells_t, self.activations_t = self.cells.unbind(0), self.activations.unbind(0)
        self.input_t, self.forget_t, self.candidate_t, self.output_t = (
            gate(self.activations, k) for k in range(4))
        self.partner_t, self.partner_candidate_t = self.partner.unbind(0), gate(self.partner, 2)
        self.slope_t = self.slope.unbind(0)
        self.gate_cut = slice(2 * size, 3 * size)

    def forward(self, t: int, gates: torch.Tensor, hidden: torch.Tensor) -> None:
        """gates [B, 4H] pre-activation -> writes h_t (before dropout) into `hidden`."""
        activations, cell_tanh, partner = self.activations_t[t], self.cell_tanh, self.partner_t[t]
        input_gate, forget_gate = self.input_t[t], self.forget_t[t]
        candidate, output_gate = self.candidate_t[t], self.output_t[t]
        cell, previous_cell = self.cells_t[t + 1], self.cells_t[t]
        torch.sigmoid(gates, out=activations)
        torch.tanh(gates[:, self.gate_cut], out=candidate)
        torch.mul(forget_gate, previous_cell, out=cell)
        cell.addcmul_(input_gate, candidate)
        torch.tanh(cell, out=cell_tanh)
        torch.mul(output_gate, cell_tanh, out=hidden)
        torch.addcmul(activations, activations, activations, value=-1, out=partner)  # a (1 - a)
        torch.addcmul(self.ones, candidate, candidate, value=-1, out=self.partner_candidate_t[t])
        partner.mul_(torch.cat([candidate, previous_cell, input_gate, cell_tanh], dim=1))
        torch.addcmul(self.ones, cell_tanh, cell_tanh, value=-1, out=self.slope_t[t]).mul_(output_gate)

    def backward(self, t: int, hidden_grad: torch.Tensor, cell_carry: torch.Tensor,
                 gates_grad: torch.Tensor) -> torch.Tensor:
        """hidden_grad [B, H] (d loss / d h_t before dropout), cell_carry d loss / d c_t from step
        t + 1 -> writes d loss / d gates_t into `gates_grad`, returns d loss / d c_{t-1}."""
        cell_grad = torch.addcmul(cell_carry, hidden_grad, self.slope_t[t])
        torch.mul(torch.cat([cell_grad, cell_grad, cell_grad, hidden_grad], dim=1), self.partner_t[t],
                  out=gates_grad)
        return cell_grad.mul_(self.forget_t[t])


class DecoderLoop(torch.autograd.Function):
    """hidden [T, B, H2 + D] (each step's projection input [decoder hidden, context]) and
    alignments [B, T, N] of the decoder loop, with a hand-written backward (module docstring)."""

    @staticmethod
    def forward(ctx, settings: LoopSettings, drawn: LoopMasks | None, memory, processed_memory,
                text_mask, prenet_out, teacher_frames, attention_w_ih, attention_w_hh, attention_b_ih,
                attention_b_hh, query_w, location_conv_w, location_layer_w, v_w, decoder_w_ih, decoder_w_hh,
                decoder_b_ih, decoder_b_hh, projection_w, projection_b, mel_mean, mel_std,
                *prenet_ws):
        batch, symbols, memory_dim = memory.shape
        steps = settings.steps
        free_running = settings.teacher_forcing_ratio < 1.0
        attention_size = attention_w_hh.size(1)
        decoder_size = decoder_w_hh.size(1)
        attention_dim = query_w.size(0)
        prenet_size = attention_w_ih.size(1) - memory_dim
        kernel = location_conv_w.size(2)
        recurrent_size = attention_size + memory_dim  # [h1, context]: the attention LSTM's recurrent input
        pad = kernel // 2
        padded_symbols = symbols + 2 * pad
        pool, taken = workspace(), []
        take = lambda *shape, zero=False: pool.take(taken, memory, *shape, zero=zero)  # noqa: E731

        # Fused weights: the attention LSTM reads [h1_{t-1}, context_{t-1}] in one product, the
        # decoder LSTM [h1_t, context_t, h2_{t-1}] in one product; the location convolution followed
        # by the bias-free location layer is one convolution of 2 -> A channels. The forward's
        # products read transposed copies (the row-major [in, out] operand is the faster one here).
        prenet_w = attention_w_ih[:, :prenet_size]
        attention_recurrent_w = torch.cat([attention_w_hh, attention_w_ih[:, prenet_size:]], dim=1)
        decoder_w = torch.cat([decoder_w_ih, decoder_w_hh], dim=1)
        attention_recurrent_wt = attention_recurrent_w.t().contiguous()
        decoder_wt = decoder_w.t().contiguous()
        query_wt = query_w.t().contiguous()
        attention_bias = attention_b_ih + attention_b_hh
        decoder_bias = decoder_b_ih + decoder_b_hh
        location_w = torch.einsum("af,fck->ack", location_layer_w, location_conv_w)  # [A, 2, K]
        # The location convolution as a product: each symbol's window of the zero-padded,
        # channels-last history is 2K contiguous numbers (k-major, channel-minor).
        location_window_wt = location_w.permute(2, 1, 0).reshape(2 * kernel, attention_dim).contiguous()
        v = v_w.reshape(attention_dim)
        processed_memory = processed_memory.reshape(batch * symbols, attention_dim)
        padding = ~text_mask
        energy_floor = torch.finfo(memory.dtype).min

        # Row t + 1 of `rows` is [h1_t, context_t, h2_{t-1}] (after dropout); row 0 is the zero
        # initial state. Rows [t, :, :H1 + D] are the attention LSTM's recurrent input at step t,
        # rows [t + 1] the decoder LSTM's whole input, rows [t + 2, :, H1 + D:] its output h2_t.
        rows = take(steps + 2, batch, recurrent_size + decoder_size, zero=True)
        attention_lstm = LstmSteps(pool, taken, memory, steps, batch, attention_size)
        decoder_lstm = LstmSteps(pool, taken, memory, steps, batch, decoder_size)
        # history[t, :, pad + n] = [weights_{t-1}, cumulative weights_{t-1}] at symbol n, the location
        # features' input (zero padding around); windows[t] its [B, N, 2K] sliding windows.
        history = take(steps + 1, batch, padded_symbols, 2, zero=True)
        windows = take(steps, batch, symbols, 2 * kernel)
        energies_tanh = take(steps, batch, symbols, attention_dim)
        if drawn is not None:
            attention_masks, decoder_masks = drawn.attention, drawn.decoder
        else:  # drawn per step in the loop, as the reference does
            attention_masks = take(steps, batch, attention_size) if settings.attention_dropout > 0 else None
            decoder_masks = take(steps, batch, decoder_size) if settings.decoder_dropout > 0 else None
        ones_attention = memory.new_ones(batch, attention_size)
        ones_decoder = memory.new_ones(batch, decoder_size)

        if free_running:
            # The prenet runs per step on a frame chosen then; its inputs and masks are saved.
            prenet_dims = [weight.size(1) for weight in prenet_ws] + [prenet_size]
            prenet_activations = [take(steps, batch, dim) for dim in prenet_dims]  # inputs, then output
            prenet_masks = (drawn.prenet if drawn is not None
                            else [take(steps, batch, weight.size(0)) for weight in prenet_ws])
            prenet_wt = prenet_w.t().contiguous()
            projection_last_w = projection_w[-settings.n_mels:]
            projection_last_b = projection_b[-settings.n_mels:]
            own_frame = None
        else:
            prenet_flat = prenet_out.reshape(steps * batch, prenet_size)
            # The prenet's share of the attention LSTM's gates, for all steps in one product.
            attention_input_gates = torch.addmm(attention_bias, prenet_flat, prenet_w.t()).view(
                steps, batch, 4 * attention_size)

        # Each step's views, made before the loop by one unbind per buffer (see LstmSteps).
        rows_t = rows.unbind(0)
        rows_recurrent = rows[:, :, :recurrent_size].unbind(0)
        rows_attention = rows[:, :, :attention_size].unbind(0)
        rows_context = rows[:, :, attention_size:recurrent_size].unbind(0)
        rows_decoder = rows[:, :, recurrent_size:].unbind(0)
        history_windows = history[:steps].as_strided(
            (steps, batch, symbols, 2 * kernel), (history.stride(0), padded_symbols * 2, 2, 1)).unbind(0)
        history_weights = history[:, :, pad:pad + symbols, 0].unbind(0)
        history_cumulative = history[:, :, pad:pad + symbols, 1].unbind(0)
        windows_t = windows.unbind(0)
        windows_flat = windows.view(steps, batch * symbols, 2 * kernel).unbind(0)
        energies_t = energies_tanh.unbind(0)
        energies_flat = energies_tanh.view(steps, batch * symbols, attention_dim).unbind(0)
        attention_masks_t = attention_masks.unbind(0) if attention_masks is not None else None
        decoder_masks_t = decoder_masks.unbind(0) if decoder_masks is not None else None
        if not free_running:
            attention_input_gates_t = attention_input_gates.unbind(0)

        for t in range(steps):
            if free_running:
                frame = teacher_frames[:, t]
                if own_frame is not None:
                    use_own = torch.rand(batch, 1, device=memory.device) >= settings.teacher_forcing_ratio
                    frame = torch.where(use_own, own_frame.to(frame.dtype), frame)
                x = prenet_activations[0][t]
                torch.div(frame - mel_mean, mel_std, out=x)
                for layer, weight in enumerate(prenet_ws):
                    activation = F.relu(F.linear(x, weight))
                    if drawn is None:
                        prenet_masks[layer][t] = F.dropout(torch.ones_like(activation),
                                                           settings.prenet_dropout, True)
                    x = torch.mul(activation, prenet_masks[layer][t], out=prenet_activations[layer + 1][t])
                gates = torch.addmm(attention_bias, x, prenet_wt)
                gates.addmm_(rows_recurrent[t], attention_recurrent_wt)
            else:
                gates = torch.addmm(attention_input_gates_t[t], rows_recurrent[t], attention_recurrent_wt)
            attention_hidden = rows_attention[t + 1]
            attention_lstm.forward(t, gates, attention_hidden)
            if attention_masks_t is not None:
                if drawn is None:
                    attention_masks_t[t].copy_(F.dropout(ones_attention, settings.attention_dropout, True))
                attention_hidden.mul_(attention_masks_t[t])

            # Location-sensitive attention (Chorowski et al. 2015).
            query = torch.mm(attention_hidden, query_wt)
            windows_t[t].copy_(history_windows[t])
            energies = energies_t[t]
            torch.addmm(processed_memory, windows_flat[t], location_window_wt, out=energies_flat[t])
            energies.add_(query.unsqueeze(1)).tanh_()
            scores = torch.mv(energies_flat[t], v).view(batch, symbols)
            scores.masked_fill_(padding, energy_floor)
            weights = torch.softmax(scores, dim=1)
            history_weights[t + 1].copy_(weights)
            torch.add(history_cumulative[t], weights, out=history_cumulative[t + 1])
            context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
            rows_context[t + 1].copy_(context)

            gates = torch.addmm(decoder_bias, rows_t[t + 1], decoder_wt)
            decoder_hidden = rows_decoder[t + 2]
            decoder_lstm.forward(t, gates, decoder_hidden)
            if decoder_masks_t is not None:
                if drawn is None:
                    decoder_masks_t[t].copy_(F.dropout(ones_decoder, settings.decoder_dropout, True))
                decoder_hidden.mul_(decoder_masks_t[t])
            if free_running and t < steps - 1:
                # The step's last frame, de-standardized as Decoder.frames does: next step's input
                # where the model feeds itself (no gradient flows through it, as in the reference).
                projection_input = torch.cat([decoder_hidden, context], dim=1)
                own_frame = (torch.addmm(projection_last_b, projection_input, projection_last_w.t())
                             * mel_std + mel_mean)

        hidden = torch.cat([rows[2:, :, recurrent_size:],
                            rows[1:steps + 1, :, attention_size:recurrent_size]], dim=2)
        # A copy, never a view: the buffers go back to the workspace after backward.
        alignments = history[1:, :, pad:pad + symbols, 0].transpose(0, 1).clone(
            memory_format=torch.contiguous_format)

        ctx.settings = settings
        ctx.sizes = (attention_size, decoder_size, memory_dim, attention_dim, prenet_size, kernel)
        ctx.state = (taken, rows, attention_lstm, decoder_lstm, windows, energies_tanh,
                     attention_masks, decoder_masks)
        ctx.fused = (prenet_w, attention_recurrent_w, decoder_w, location_w, v)
        if free_running:
            ctx.prenet = (prenet_activations, prenet_masks)
            prenet_flat = prenet_activations[-1].view(steps * batch, prenet_size)
        ctx.prenet_flat = prenet_flat
        ctx.save_for_backward(memory, query_w, location_conv_w, location_layer_w, alignments,
                              *prenet_ws)
        return hidden, alignments

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, hidden_grad, alignments_grad):
        if ctx.state is None:
            raise RuntimeError("the fused decoder loop's buffers are reused after its backward: "
                               "a second backward (retain_graph) needs Decoder.fused_training = False")
        settings = ctx.settings
        steps = settings.steps
        attention_size, decoder_size, memory_dim, attention_dim, prenet_size, kernel = ctx.sizes
        (taken, rows, attention_lstm, decoder_lstm, windows, energies_tanh, attention_masks,
         decoder_masks) = ctx.state
        prenet_w, attention_recurrent_w, decoder_w, location_w, v = ctx.fused
        memory, query_w, location_conv_w, location_layer_w, alignments, *prenet_ws = ctx.saved_tensors
        batch, symbols, _ = memory.shape
        recurrent_size = attention_size + memory_dim
        pad = kernel // 2
        pool = workspace()
        take = lambda *shape, zero=False: pool.take(taken, memory, *shape, zero=zero)  # noqa: E731

        if hidden_grad is None:
            hidden_grad = memory.new_zeros(steps, batch, decoder_size + memory_dim)
        if alignments_grad is None:
            alignments_grad = memory.new_zeros(batch, steps, symbols)
        decoder_hidden_grad_out = hidden_grad[:, :, :decoder_size]
        context_grad_out = hidden_grad[:, :, decoder_size:]
        alignments_grad = alignments_grad.transpose(0, 1)  # [T, B, N]

        # The location features' input gradient is a transposed convolution; as a product, each
        # symbol's [2, K] window gradient is summed along the anti-diagonal of a zero-padded
        # [B, N + 2 pad, 2, K] buffer, whose kernel index is reversed so that the strides stay
        # positive: element (n, c, k') sits at n * 2K + c * K + k' and symbol j collects k' = 0..K-1
        # of rows j + k'.
        location_reversed_w = location_w.flip(2).reshape(attention_dim, 2 * kernel)  # [A, (c, k')]
        window_grads = memory.new_zeros(batch, symbols + 2 * pad, 2 * kernel)
        row_stride = (symbols + 2 * pad) * 2 * kernel
        history_grad_view = window_grads.as_strided(
            (batch, symbols, 2, kernel), (row_stride, 2 * kernel, kernel, 2 * kernel + 1))
        tanh_grad = memory.new_empty(batch, symbols, attention_dim)
        tanh_grad_times_tanh = memory.new_empty(batch, symbols, attention_dim)

        attention_gates_grad = take(steps, batch, 4 * attention_size)
        decoder_gates_grad = take(steps, batch, 4 * decoder_size)
        context_grad = take(steps, batch, memory_dim)
        scores_grad = take(steps, batch, symbols)
        sum_grad = take(steps, batch, symbols, attention_dim)  # d loss / d (query + memory + location)
        query_grad = take(steps, batch, attention_dim)

        # Gradients carried from step t + 1 to step t.
        decoder_hidden_carry = memory.new_zeros(batch, decoder_size)
        decoder_cell_carry = memory.new_zeros(batch, decoder_size)
        attention_hidden_carry = memory.new_zeros(batch, attention_size)
        attention_cell_carry = memory.new_zeros(batch, attention_size)
        context_carry = memory.new_zeros(batch, memory_dim)
        # weights_t reaches the loss through the alignments, context_t, history_{t+1} and every
        # later cumulative sum: weights_carry is what history_{t+1} and the sums give it.
        weights_carry = memory.new_zeros(batch, symbols)
        cumulative_carry = memory.new_zeros(batch, symbols)

        # Each step's views, made before the loops by one unbind per buffer (see LstmSteps).
        unbind = lambda x: x.unbind(0) if x is not None else None  # noqa: E731
        decoder_hidden_grad_out_t = unbind(decoder_hidden_grad_out)
        context_grad_out_t = unbind(context_grad_out)
        alignments_grad_t, alignments_t = unbind(alignments_grad), alignments.unbind(1)
        attention_masks_t, decoder_masks_t = unbind(attention_masks), unbind(decoder_masks)
        attention_gates_grad_t = unbind(attention_gates_grad)
        decoder_gates_grad_t = unbind(decoder_gates_grad)
        context_grad_t, scores_grad_t = unbind(context_grad), unbind(scores_grad)
        query_grad_t = unbind(query_grad)
        energies_t, sum_grad_t = unbind(energies_tanh), unbind(sum_grad)
        sum_grad_flat = unbind(sum_grad.view(steps, batch * symbols, attention_dim))
        window_grads_inner = window_grads[:, pad:pad + symbols]
        history_grad = memory.new_empty(batch, symbols, 2)
        history_grad_weights, history_grad_cumulative = history_grad.unbind(2)

        # The decoder LSTM's chain first: nothing it reads comes back from the attention side (the
        # frame a free-running step feeds back is detached), so its input gradients of all steps
        # are then one product instead of one per step.
        for t in range(steps - 1, -1, -1):
            hidden_grad_t = decoder_hidden_grad_out_t[t] + decoder_hidden_carry
            if decoder_masks_t is not None:
                hidden_grad_t.mul_(decoder_masks_t[t])
            decoder_cell_carry = decoder_lstm.backward(t, hidden_grad_t, decoder_cell_carry,
                                                       decoder_gates_grad_t[t])
            decoder_hidden_carry = torch.mm(decoder_gates_grad_t[t], decoder_w[:, recurrent_size:])
        decoder_input_grad = torch.mm(decoder_gates_grad.view(steps * batch, 4 * decoder_size),
                                      decoder_w[:, :recurrent_size]).view(steps, batch, recurrent_size)
        decoder_attention_grad_t = decoder_input_grad[:, :, :attention_size].unbind(0)
        decoder_context_grad_t = decoder_input_grad[:, :, attention_size:].unbind(0)

        for t in range(steps - 1, -1, -1):
            # Attention: context_t = weights_t @ memory, weights_t = softmax(scores_t),
            # scores_t = tanh(sum_t) @ v.
            context_grad_now = torch.add(context_grad_out_t[t], decoder_context_grad_t[t],
                                         out=context_grad_t[t])
            context_grad_now.add_(context_carry)
            weights_grad = (alignments_grad_t[t] + weights_carry).unsqueeze(2)
            weights_grad = torch.baddbmm(weights_grad, memory, context_grad_now.unsqueeze(2)).squeeze(2)
            scores_grad_now = torch._softmax_backward_data(weights_grad, alignments_t[t], 1, memory.dtype)
            scores_grad_t[t].copy_(scores_grad_now)
            energies = energies_t[t]
            torch.mul(scores_grad_now.unsqueeze(2), v, out=tanh_grad)
            torch.mul(tanh_grad, energies, out=tanh_grad_times_tanh)
            torch.addcmul(tanh_grad, tanh_grad_times_tanh, energies, value=-1,
                          out=sum_grad_t[t])  # (1 - tanh^2) * tanh_grad
            query_grad_now = torch.sum(sum_grad_t[t], dim=1, out=query_grad_t[t])
            window_grads_inner.copy_(torch.mm(sum_grad_flat[t], location_reversed_w).view(
                batch, symbols, 2 * kernel))
            torch.sum(history_grad_view, dim=3, out=history_grad)  # [B, N, 2]
            cumulative_carry.add_(history_grad_cumulative)
            weights_carry = history_grad_weights + cumulative_carry

            # Attention LSTM (its hidden state feeds the query and the decoder LSTM).
            hidden_grad_t = decoder_attention_grad_t[t] + attention_hidden_carry
            hidden_grad_t.addmm_(query_grad_now, query_w)
            if attention_masks_t is not None:
                hidden_grad_t.mul_(attention_masks_t[t])
            attention_cell_carry = attention_lstm.backward(t, hidden_grad_t, attention_cell_carry,
                                                           attention_gates_grad_t[t])
            recurrent_grad = torch.mm(attention_gates_grad_t[t], attention_recurrent_w)  # [B, H1 + D]
            attention_hidden_carry = recurrent_grad[:, :attention_size]
            context_carry = recurrent_grad[:, attention_size:]

        # Weight gradients: one product over all T * B rows each.
        flat = lambda x, width: x.reshape(-1, width)  # noqa: E731
        attention_gates_flat = flat(attention_gates_grad, 4 * attention_size)
        decoder_gates_flat = flat(decoder_gates_grad, 4 * decoder_size)
        attention_recurrent_grad = attention_gates_flat.t() @ flat(rows[:steps, :, :recurrent_size],
                                                                   recurrent_size)
        attention_w_ih_grad = torch.cat([attention_gates_flat.t() @ ctx.prenet_flat,
                                         attention_recurrent_grad[:, attention_size:]], dim=1)
        attention_w_hh_grad = attention_recurrent_grad[:, :attention_size]
        attention_b_grad = attention_gates_flat.sum(0)
        decoder_w_grad = decoder_gates_flat.t() @ flat(rows[1:steps + 1], recurrent_size + decoder_size)
        decoder_w_ih_grad = decoder_w_grad[:, :recurrent_size]
        decoder_w_hh_grad = decoder_w_grad[:, recurrent_size:]
        decoder_b_grad = decoder_gates_flat.sum(0)
        query_w_grad = flat(query_grad, attention_dim).t() @ flat(rows[1:steps + 1, :, :attention_size],
                                                                 attention_size)
        v_grad = torch.mv(flat(energies_tanh, attention_dim).t(), scores_grad.reshape(-1))[None, :]
        sum_grad_flat = flat(sum_grad, attention_dim)
        # [A, (k, c)] as the forward's windows, back to the convolution's [A, 2, K].
        location_grad = (sum_grad_flat.t() @ flat(windows, 2 * kernel)).view(
            attention_dim, kernel, 2).transpose(1, 2)
        location_layer_grad = torch.einsum("ack,fck->af", location_grad, location_conv_w)
        location_conv_grad = torch.einsum("af,ack->fck", location_layer_w, location_grad)
        processed_memory_grad = sum_grad.sum(0)  # [B, N, A]
        memory_grad = torch.bmm(alignments.transpose(1, 2), context_grad.transpose(0, 1))
        prenet_out_grad = (attention_gates_flat @ prenet_w).view(steps, batch, prenet_size)

        prenet_grads = [None] * len(prenet_ws)
        if settings.teacher_forcing_ratio < 1.0:
            # The prenet ran inside the loop: backward through its layers for all steps at once.
            activations, masks = ctx.prenet
            grad = prenet_out_grad
            for layer in range(len(prenet_ws) - 1, -1, -1):
                # d relu: the output after dropout is > 0 exactly where relu passed and the mask kept.
                grad = grad * masks[layer] * (activations[layer + 1] > 0)
                prenet_grads[layer] = flat(grad, grad.size(2)).t() @ flat(activations[layer],
                                                                         activations[layer].size(2))
                grad = grad @ prenet_ws[layer]
            prenet_out_grad = None

        # All results are fresh tensors now: the saved buffers go to the next step's loop.
        ctx.state = ctx.prenet = ctx.prenet_flat = None
        pool.give_back(taken)
        # Each bias gets its own tensor: autograd may adopt a returned gradient as `.grad`, and
        # one tensor shared by two parameters would then be clipped twice in place.
        return (None, None, memory_grad, processed_memory_grad, None, prenet_out_grad, None,
                attention_w_ih_grad, attention_w_hh_grad, attention_b_grad, attention_b_grad.clone(),
                query_w_grad, location_conv_grad, location_layer_grad, v_grad,
                decoder_w_ih_grad, decoder_w_hh_grad, decoder_b_grad, decoder_b_grad.clone(),
                None, None, None, None, *prenet_grads)


def fused_decoder_loop(decoder, memory: torch.Tensor, text_mask: torch.Tensor, inputs: torch.Tensor,
                       teacher_forcing_ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """`Decoder.forward`'s loop for training: memory [B, N, D], inputs [B, T, n_mels] (each step's
    teacher frame) -> projection inputs [B, T, H2 + D] and alignments [B, T, N]. Under full teacher
    forcing the prenet runs before the loop for all steps (as in the reference path); with
    teacher_forcing_ratio < 1 it runs per step inside the Function."""
    config = decoder.config
    batch, steps = inputs.shape[:2]
    free_running = teacher_forcing_ratio < 1.0
    drawn = (draw_loop_masks(decoder, steps, batch, memory)
             if decoder.cheap_masks and memory.device.type == "cpu" else None)
    if free_running:
        prenet_out = None
    elif drawn is None:  # the reference's draws, in its order
        prenet_out = decoder.prenet_input(inputs).transpose(0, 1)
    else:  # the drawn masks are [T, B, P]
        prenet_out = decoder.prenet_input(inputs.transpose(0, 1), drawn.prenet)
    processed_memory = decoder.attention.memory_layer(memory)
    settings = LoopSettings(steps, config.attention_dropout, config.decoder_dropout,
                            decoder.prenet.dropout, float(teacher_forcing_ratio), decoder.r, decoder.n_mels)
    attention_rnn, attention, decoder_rnn = decoder.attention_rnn, decoder.attention, decoder.decoder_rnn
    hidden, alignments = DecoderLoop.apply(
        settings, drawn, memory, processed_memory, text_mask, prenet_out, inputs,
        attention_rnn.weight_ih, attention_rnn.weight_hh, attention_rnn.bias_ih, attention_rnn.bias_hh,
        attention.query_layer.weight, attention.location_conv.weight, attention.location_layer.weight,
        attention.v.weight, decoder_rnn.weight_ih, decoder_rnn.weight_hh, decoder_rnn.bias_ih,
        decoder_rnn.bias_hh, decoder.mel_projection.weight, decoder.mel_projection.bias,
        decoder.mel_mean, decoder.mel_std, *(layer.weight for layer in decoder.prenet.layers))
    return hidden.transpose(0, 1), alignments
