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
padding symbols, and free-running inputs (teacher_forcing_ratio < 1). Dropout masks are drawn by
`F.dropout` on a tensor of ones of the same shape, in the same order as the reference, so for one
seed both paths draw the same masks. tests/test_decoder_loop.py checks outputs and gradients.

Shapes: B utterances, T decoder steps, N symbols, D memory channels, P prenet output, H1 attention
LSTM, H2 decoder LSTM, A attention dim, K location kernel.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F


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

    def forward(self, t: int, gates: torch.Tensor, hidden: torch.Tensor) -> None:
        """gates [B, 4H] pre-activation -> writes h_t (before dropout) into `hidden`."""
        size, activations, cell_tanh = self.size, self.activations[t], self.cell_tanh
        torch.sigmoid(gates, out=activations)
        torch.tanh(gates[:, 2 * size:3 * size], out=activations[:, 2 * size:3 * size])
        input_gate, forget_gate, candidate, output_gate = activations.chunk(4, dim=1)
        cell = self.cells[t + 1]
        torch.mul(forget_gate, self.cells[t], out=cell)
        cell.addcmul_(input_gate, candidate)
        torch.tanh(cell, out=cell_tanh)
        torch.mul(output_gate, cell_tanh, out=hidden)
        slopes = torch.addcmul(activations, activations, activations, value=-1)  # a (1 - a)
        torch.addcmul(self.ones, candidate, candidate, value=-1, out=slopes[:, 2 * size:3 * size])
        torch.mul(slopes, torch.cat([candidate, self.cells[t], input_gate, cell_tanh], dim=1),
                  out=self.partner[t])
        torch.addcmul(self.ones, cell_tanh, cell_tanh, value=-1, out=self.slope[t]).mul_(output_gate)

    def backward(self, t: int, hidden_grad: torch.Tensor, cell_carry: torch.Tensor,
                 gates_grad: torch.Tensor) -> torch.Tensor:
        """hidden_grad [B, H] (d loss / d h_t before dropout), cell_carry d loss / d c_t from step
        t + 1 -> writes d loss / d gates_t into `gates_grad`, returns d loss / d c_{t-1}."""
        cell_grad = torch.addcmul(cell_carry, hidden_grad, self.slope[t])
        torch.mul(torch.cat([cell_grad, cell_grad, cell_grad, hidden_grad], dim=1), self.partner[t],
                  out=gates_grad)
        return cell_grad.mul_(self.activations[t, :, self.size:2 * self.size])


class DecoderLoop(torch.autograd.Function):
    """hidden [T, B, H2 + D] (each step's projection input [decoder hidden, context]) and
    alignments [B, T, N] of the decoder loop, with a hand-written backward (module docstring)."""

    @staticmethod
    def forward(ctx, settings: LoopSettings, memory, processed_memory, text_mask, prenet_out,
                teacher_frames, attention_w_ih, attention_w_hh, attention_b_ih, attention_b_hh,
                query_w, location_conv_w, location_layer_w, v_w, decoder_w_ih, decoder_w_hh,
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
        attention_masks = take(steps, batch, attention_size) if settings.attention_dropout > 0 else None
        decoder_masks = take(steps, batch, decoder_size) if settings.decoder_dropout > 0 else None
        ones_attention = memory.new_ones(batch, attention_size)
        ones_decoder = memory.new_ones(batch, decoder_size)

        if free_running:
            # The prenet runs per step on a frame chosen then; its inputs and masks are saved.
            prenet_dims = [weight.size(1) for weight in prenet_ws] + [prenet_size]
            prenet_activations = [take(steps, batch, dim) for dim in prenet_dims]  # inputs, then output
            prenet_masks = [take(steps, batch, weight.size(0)) for weight in prenet_ws]
            prenet_wt = prenet_w.t().contiguous()
            projection_last_w = projection_w[-settings.n_mels:]
            projection_last_b = projection_b[-settings.n_mels:]
            own_frame = None
        else:
            prenet_flat = prenet_out.reshape(steps * batch, prenet_size)
            # The prenet's share of the attention LSTM's gates, for all steps in one product.
            attention_input_gates = torch.addmm(attention_bias, prenet_flat, prenet_w.t()).view(
                steps, batch, 4 * attention_size)

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
                    mask = F.dropout(torch.ones_like(activation), settings.prenet_dropout, True)
                    prenet_masks[layer][t] = mask
                    x = torch.mul(activation, mask, out=prenet_activations[layer + 1][t])
                gates = torch.addmm(attention_bias, x, prenet_wt)
                gates.addmm_(rows[t, :, :recurrent_size], attention_recurrent_wt)
            else:
                gates = torch.addmm(attention_input_gates[t], rows[t, :, :recurrent_size],
                                    attention_recurrent_wt)
            attention_hidden = rows[t + 1, :, :attention_size]
            attention_lstm.forward(t, gates, attention_hidden)
            if attention_masks is not None:
                attention_masks[t] = F.dropout(ones_attention, settings.attention_dropout, True)
                attention_hidden.mul_(attention_masks[t])

            # Location-sensitive attention (Chorowski et al. 2015).
            query = torch.mm(attention_hidden, query_wt)
            windows[t] = history[t].as_strided((batch, symbols, 2 * kernel), (padded_symbols * 2, 2, 1))
            energies = energies_tanh[t]
            torch.addmm(processed_memory, windows[t].view(batch * symbols, 2 * kernel), location_window_wt,
                        out=energies.view(batch * symbols, attention_dim))
            energies.add_(query[:, None, :]).tanh_()
            scores = torch.mv(energies.view(batch * symbols, attention_dim), v).view(batch, symbols)
            scores.masked_fill_(padding, energy_floor)
            weights = torch.softmax(scores, dim=1)
            symbols_now, symbols_next = history[t, :, pad:pad + symbols], history[t + 1, :, pad:pad + symbols]
            symbols_next[:, :, 0] = weights
            torch.add(symbols_now[:, :, 1], weights, out=symbols_next[:, :, 1])
            context = torch.bmm(weights[:, None, :], memory)
            rows[t + 1, :, attention_size:recurrent_size] = context[:, 0]

            gates = torch.addmm(decoder_bias, rows[t + 1], decoder_wt)
            decoder_hidden = rows[t + 2, :, recurrent_size:]
            decoder_lstm.forward(t, gates, decoder_hidden)
            if decoder_masks is not None:
                decoder_masks[t] = F.dropout(ones_decoder, settings.decoder_dropout, True)
                decoder_hidden.mul_(decoder_masks[t])
            if free_running and t < steps - 1:
                # The step's last frame, de-standardized as Decoder.frames does: next step's input
                # where the model feeds itself (no gradient flows through it, as in the reference).
                projection_input = torch.cat([decoder_hidden, context[:, 0]], dim=1)
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

        for t in range(steps - 1, -1, -1):
            # Decoder LSTM.
            hidden_grad_t = decoder_hidden_grad_out[t] + decoder_hidden_carry
            if decoder_masks is not None:
                hidden_grad_t.mul_(decoder_masks[t])
            decoder_cell_carry = decoder_lstm.backward(t, hidden_grad_t, decoder_cell_carry,
                                                       decoder_gates_grad[t])
            input_grad = torch.mm(decoder_gates_grad[t], decoder_w)  # [B, H1 + D + H2]
            decoder_hidden_carry = input_grad[:, recurrent_size:]

            # Attention: context_t = weights_t @ memory, weights_t = softmax(scores_t),
            # scores_t = tanh(sum_t) @ v.
            context_grad_t = torch.add(context_grad_out[t], input_grad[:, attention_size:recurrent_size],
                                       out=context_grad[t])
            context_grad_t.add_(context_carry)
            weights_grad = (alignments_grad[t] + weights_carry)[:, :, None]
            weights_grad = torch.baddbmm(weights_grad, memory, context_grad_t[:, :, None])[:, :, 0]
            scores_grad_t = torch._softmax_backward_data(weights_grad, alignments[:, t], 1, memory.dtype)
            scores_grad[t] = scores_grad_t
            energies = energies_tanh[t]
            torch.mul(scores_grad_t[:, :, None], v, out=tanh_grad)
            torch.mul(tanh_grad, energies, out=tanh_grad_times_tanh)
            sum_grad_t = torch.addcmul(tanh_grad, tanh_grad_times_tanh, energies, value=-1,
                                       out=sum_grad[t])  # (1 - tanh^2) * tanh_grad
            query_grad_t = torch.sum(sum_grad_t, dim=1, out=query_grad[t])
            window_grads[:, pad:pad + symbols] = torch.mm(
                sum_grad_t.view(batch * symbols, attention_dim), location_reversed_w
            ).view(batch, symbols, 2 * kernel)
            history_grad = history_grad_view.sum(3)  # [B, N, 2]
            cumulative_carry.add_(history_grad[:, :, 1])
            weights_carry = history_grad[:, :, 0] + cumulative_carry

            # Attention LSTM (its hidden state feeds the query and the decoder LSTM).
            hidden_grad_t = input_grad[:, :attention_size] + attention_hidden_carry
            hidden_grad_t.addmm_(query_grad_t, query_w)
            if attention_masks is not None:
                hidden_grad_t.mul_(attention_masks[t])
            attention_cell_carry = attention_lstm.backward(t, hidden_grad_t, attention_cell_carry,
                                                           attention_gates_grad[t])
            recurrent_grad = torch.mm(attention_gates_grad[t], attention_recurrent_w)  # [B, H1 + D]
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
        return (None, memory_grad, processed_memory_grad, None, prenet_out_grad, None,
                attention_w_ih_grad, attention_w_hh_grad, attention_b_grad, attention_b_grad.clone(),
                query_w_grad, location_conv_grad, location_layer_grad, v_grad,
                decoder_w_ih_grad, decoder_w_hh_grad, decoder_b_grad, decoder_b_grad.clone(),
                None, None, None, None, *prenet_grads)


def fused_decoder_loop(decoder, memory: torch.Tensor, text_mask: torch.Tensor, inputs: torch.Tensor,
                       teacher_forcing_ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """`Decoder.forward`'s loop for training: memory [B, N, D], inputs [B, T, n_mels] (each step's
    teacher frame) -> projection inputs [B, T, H2 + D] and alignments [B, T, N]. Under full teacher
    forcing the prenet runs before the loop for all steps (as in the reference path, with the same
    dropout draws); with teacher_forcing_ratio < 1 it runs per step inside the Function."""
    config = decoder.config
    steps = inputs.size(1)
    free_running = teacher_forcing_ratio < 1.0
    prenet_out = None if free_running else decoder.prenet_input(inputs).transpose(0, 1)
    processed_memory = decoder.attention.memory_layer(memory)
    settings = LoopSettings(steps, config.attention_dropout, config.decoder_dropout,
                            decoder.prenet.dropout, float(teacher_forcing_ratio), decoder.r, decoder.n_mels)
    attention_rnn, attention, decoder_rnn = decoder.attention_rnn, decoder.attention, decoder.decoder_rnn
    hidden, alignments = DecoderLoop.apply(
        settings, memory, processed_memory, text_mask, prenet_out, inputs,
        attention_rnn.weight_ih, attention_rnn.weight_hh, attention_rnn.bias_ih, attention_rnn.bias_hh,
        attention.query_layer.weight, attention.location_conv.weight, attention.location_layer.weight,
        attention.v.weight, decoder_rnn.weight_ih, decoder_rnn.weight_hh, decoder_rnn.bias_ih,
        decoder_rnn.bias_hh, decoder.mel_projection.weight, decoder.mel_projection.bias,
        decoder.mel_mean, decoder.mel_std, *(layer.weight for layer in decoder.prenet.layers))
    return hidden.transpose(0, 1), alignments
