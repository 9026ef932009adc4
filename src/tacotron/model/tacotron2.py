"""Tacotron 2 (Shen et al. 2018, "Natural TTS Synthesis by Conditioning WaveNet on Mel
Spectrogram Predictions"): character embedding, 3 conv + BiLSTM encoder, location-sensitive
attention (Chorowski et al. 2015), prenet, 2-layer LSTM decoder, mel and stop-token (gate)
projections, 5-layer convolutional postnet. With a reduction factor r > 1 each decoder step
emits r frames (Wang et al. 2017, Tacotron), which shortens the attention path r times.
With model.speaker_dim > 0 a speaker embedding is concatenated to every encoder output, so the
attention and the decoder read a memory of encoder_dim + speaker_dim channels (Jia et al. 2018,
"Transfer Learning from Speaker Verification to Multispeaker TTS", section 2.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tacotron.config import ModelConfig
from tacotron.model.decoder_loop import fused_decoder_loop
from tacotron.model.dropout import BitDropout


@dataclass
class TacotronOutput:
    mel: torch.Tensor  # [B, n_mels, steps * r] decoder output
    mel_postnet: torch.Tensor  # [B, n_mels, steps * r] after the postnet residual
    gate_logits: torch.Tensor  # [B, steps] stop-token logits, one per decoder step
    alignments: torch.Tensor  # [B, steps, N] attention weights
    mel_lengths: torch.Tensor | None = None  # [B] frames produced (inference only)
    stopped_by_gate: torch.Tensor | None = None  # [B] bool (inference only)
    # Training only, when switched on in ModelConfig:
    mel_coarse: torch.Tensor | None = None  # [B, n_mels, steps_c * r_c] coarse decoder (DDC)
    alignments_coarse: torch.Tensor | None = None  # [B, steps_c, N]
    ctc_log_probs: torch.Tensor | None = None  # [frames, B, n_symbols + 1] recognizer output


def lengths_to_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """[B] lengths -> [B, max_length] bool mask, True on valid positions."""
    max_length = int(lengths.max()) if max_length is None else max_length
    return torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        layers = []
        channels = config.embedding_dim
        for _ in range(config.encoder_conv_layers):
            layers.append(
                nn.Sequential(
                    nn.Conv1d(channels, config.encoder_dim, config.encoder_kernel_size,
                              padding=config.encoder_kernel_size // 2),
                    nn.BatchNorm1d(config.encoder_dim),
                    nn.ReLU(),
                    BitDropout(config.encoder_dropout),
                )
            )
            channels = config.encoder_dim
        self.convolutions = nn.ModuleList(layers)
        self.lstm = nn.LSTM(config.encoder_dim, config.encoder_dim // 2, batch_first=True,
                            bidirectional=True)
        # Training on CPU, the BiLSTM reads the padded batch as two one-direction runs
        # (`padded_bilstm`): the packed run's result, measured 3.7x faster forward + backward at
        # cpu-tiny sizes. Synthesis stays packed, bit for bit what saved voices were checked
        # against. False: always packed (the reference path of benchmarks/train_speed.py).
        self.padded_lstm_on_cpu = True

    def forward(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """embedded [B, E, N] -> memory [B, N, encoder_dim]; padded positions are zeros."""
        x = embedded
        for conv in self.convolutions:
            x = conv(x)
        if self.padded_lstm_on_cpu and self.training and x.device.type == "cpu":
            return padded_bilstm(self.lstm, x.transpose(1, 2), lengths)
        packed = nn.utils.rnn.pack_padded_sequence(
            x.transpose(1, 2), lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True,
                                                     total_length=x.size(2))
        return output


def padded_bilstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """A one-layer bidirectional batch-first `lstm` over x [B, N, C] whose rows are padded past
    `lengths`, equal to running it on the packed batch: the forward direction reads each row from
    its start (its padding comes after every valid step), the backward direction reads each row
    reversed within its length (a gather that is its own inverse) and is reversed back; padded
    positions are zeros, as pad_packed_sequence leaves them. On CPU a packed run changes the batch
    at every step and is several times slower than these two full-batch runs."""
    steps = torch.arange(x.size(1), device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    valid = steps < lengths
    reverse = torch.where(valid, lengths - 1 - steps, steps)  # t -> length - 1 - t within a row
    flip = lambda t: torch.gather(t, 1, reverse[:, :, None].expand(-1, -1, t.size(2)))  # noqa: E731
    zeros = x.new_zeros(1, x.size(0), lstm.hidden_size)

    def one_direction(inputs: torch.Tensor, suffix: str) -> torch.Tensor:
        weights = [getattr(lstm, name + suffix)
                   for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
        output, _, _ = torch.lstm(inputs, (zeros, zeros), weights, True, 1, 0.0, lstm.training,
                                  False, True)
        return output

    output = torch.cat([one_direction(x, ""), flip(one_direction(flip(x), "_reverse"))], dim=2)
    return output * valid[:, :, None]


class Prenet(nn.Module):
    """Two ReLU layers whose dropout stays on at inference too (paper, section 2.3):
    the noise it adds is what makes the free-running decoder robust to its own errors."""

    def __init__(self, in_dim: int, dims: list[int], dropout: float):
        super().__init__()
        sizes = [in_dim] + list(dims)
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes, sizes[1:]))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor] | None = None) -> torch.Tensor:
        """`masks`: one scaled keep mask per layer, drawn by the caller (the fused training loop's
        `draw_loop_masks`); None: F.dropout draws them."""
        for index, linear in enumerate(self.layers):
            x = F.relu(linear(x))
            x = F.dropout(x, p=self.dropout, training=True) if masks is None else x * masks[index]
        return x


class LocationSensitiveAttention(nn.Module):
    """e_{i,j} = v^T tanh(W s_i + V h_j + U f_{i,j}), f = conv([a_{i-1}, sum_{k<i} a_k])
    (Chorowski et al. 2015; Shen et al. 2018 use cumulative weights as the location input)."""

    def __init__(self, query_dim: int, memory_dim: int, attention_dim: int,
                 location_filters: int, location_kernel_size: int):
        super().__init__()
        self.query_layer = nn.Linear(query_dim, attention_dim, bias=False)
        self.memory_layer = nn.Linear(memory_dim, attention_dim, bias=False)
        self.location_conv = nn.Conv1d(2, location_filters, location_kernel_size,
                                       padding=location_kernel_size // 2, bias=False)
        self.location_layer = nn.Linear(location_filters, attention_dim, bias=False)
        self.v = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, query, memory, processed_memory, weights_history, mask):
        """query [B, Q], memory [B, N, D], processed_memory [B, N, A], weights_history [B, 2, N],
        mask [B, N] -> context [B, D], weights [B, N]."""
        location = self.location_layer(self.location_conv(weights_history).transpose(1, 2))
        energies = self.v(torch.tanh(self.query_layer(query)[:, None, :] + processed_memory
                                     + location)).squeeze(2)
        energies = energies.masked_fill(~mask, torch.finfo(energies.dtype).min)
        weights = torch.softmax(energies, dim=1)
        context = torch.bmm(weights[:, None, :], memory).squeeze(1)
        return context, weights


@dataclass
class DecoderState:
    attention_hidden: torch.Tensor
    attention_cell: torch.Tensor
    decoder_hidden: torch.Tensor
    decoder_cell: torch.Tensor
    weights: torch.Tensor
    weights_cumulative: torch.Tensor
    context: torch.Tensor


class Decoder(nn.Module):
    def __init__(self, config: ModelConfig, n_mels: int, reduction_factor: int | None = None):
        super().__init__()
        self.n_mels = n_mels
        self.r = reduction_factor or config.reduction_factor
        self.config = config
        # What attention reads per symbol: the encoder output and, with many speakers, the speaker's vector.
        memory_dim = config.encoder_dim + config.speaker_dim
        # The prenet sees the last frame of the previous step's r frames.
        self.prenet = Prenet(n_mels, config.prenet_dims, config.prenet_dropout)
        self.attention_rnn = nn.LSTMCell(config.prenet_dims[-1] + memory_dim,
                                         config.attention_rnn_dim)
        self.attention = LocationSensitiveAttention(
            config.attention_rnn_dim, memory_dim, config.attention_dim,
            config.location_filters, config.location_kernel_size)
        self.decoder_rnn = nn.LSTMCell(config.attention_rnn_dim + memory_dim,
                                       config.decoder_rnn_dim)
        projection_in = config.decoder_rnn_dim + memory_dim
        self.mel_projection = nn.Linear(projection_in, n_mels * self.r)
        self.gate_projection = nn.Linear(projection_in, 1)
        # Per-bin mean and standard deviation of the training mels (set_mel_statistics): the
        # prenet reads standardized frames and the projection writes them, so neither starts by
        # learning the log-mel's offset and scale (-11.5..2). Identity for weights trained without.
        self.register_buffer("mel_mean", torch.zeros(n_mels))
        self.register_buffer("mel_std", torch.ones(n_mels))
        # Training runs the loop as one autograd Function with a hand-written backward
        # (model/decoder_loop.py; train.fused_decoder); False: the step-by-step autograd loop below,
        # the reference. A plain attribute, not state: checkpoints do not carry it.
        self.fused_training = True
        # The fused loop on CPU draws all its dropout masks (prenet, both LSTMs) at once from
        # random bits (model/dropout.py); False: F.dropout per step, the reference's own draws.
        self.cheap_masks = True

    def set_mel_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std)

    def standardize(self, frames: torch.Tensor) -> torch.Tensor:
        """Log-mel frames [..., n_mels] -> (frames - mel_mean) / mel_std, what the prenet reads."""
        return (frames - self.mel_mean) / self.mel_std

    def prenet_input(self, frames: torch.Tensor, masks: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Log-mel frames [..., n_mels] -> the prenet's output for them (standardized first);
        `masks`: the prenet's dropout masks when drawn by the caller (Prenet.forward)."""
        return self.prenet(self.standardize(frames), masks)

    def frames(self, hidden: torch.Tensor) -> torch.Tensor:
        """Projection input [..., H] -> the step's r log-mel frames [..., r, n_mels]."""
        standardized = self.mel_projection(hidden).unflatten(-1, (self.r, self.n_mels))
        return standardized * self.mel_std + self.mel_mean

    def initial_state(self, memory: torch.Tensor) -> DecoderState:
        batch, length, memory_dim = memory.shape
        zeros = lambda dim: memory.new_zeros(batch, dim)  # noqa: E731
        return DecoderState(
            attention_hidden=zeros(self.config.attention_rnn_dim),
            attention_cell=zeros(self.config.attention_rnn_dim),
            decoder_hidden=zeros(self.config.decoder_rnn_dim),
            decoder_cell=zeros(self.config.decoder_rnn_dim),
            weights=memory.new_zeros(batch, length),
            weights_cumulative=memory.new_zeros(batch, length),
            context=zeros(memory_dim),
        )

    def step(self, prenet_out, state: DecoderState, memory, processed_memory, mask):
        """One decoder step; returns the projection input [B, decoder_rnn_dim + encoder_dim]."""
        s = state
        s.attention_hidden, s.attention_cell = self.attention_rnn(
            torch.cat([prenet_out, s.context], dim=1), (s.attention_hidden, s.attention_cell))
        s.attention_hidden = F.dropout(s.attention_hidden, self.config.attention_dropout,
                                       self.training)
        history = torch.stack([s.weights, s.weights_cumulative], dim=1)
        s.context, s.weights = self.attention(s.attention_hidden, memory, processed_memory,
                                              history, mask)
        s.weights_cumulative = s.weights_cumulative + s.weights
        s.decoder_hidden, s.decoder_cell = self.decoder_rnn(
            torch.cat([s.attention_hidden, s.context], dim=1), (s.decoder_hidden, s.decoder_cell))
        s.decoder_hidden = F.dropout(s.decoder_hidden, self.config.decoder_dropout, self.training)
        return torch.cat([s.decoder_hidden, s.context], dim=1)

    def forward(self, memory, text_mask, mels, teacher_forcing_ratio: float = 1.0):
        """Teacher forcing. mels [B, n_mels, steps * r] -> mel [B, n_mels, steps * r],
        gate logits [B, steps], alignments [B, steps, N]. With teacher_forcing_ratio < 1 each
        step's input is, per utterance with probability 1 - ratio, the model's own previous
        frame instead of the ground truth (curriculum learning; detached, as at inference)."""
        batch = memory.size(0)
        steps = mels.size(2) // self.r
        # Input of step i is the last frame of step i-1; step 0 gets a zero "go" frame.
        previous = mels[:, :, self.r - 1::self.r][:, :, : steps - 1].transpose(1, 2)
        inputs = torch.cat([mels.new_zeros(batch, 1, self.n_mels), previous], dim=1)
        if (self.fused_training and self.training and torch.is_grad_enabled()
                and not torch.is_autocast_enabled(memory.device.type)):
            hidden, alignments = fused_decoder_loop(self, memory, text_mask, inputs,
                                                    teacher_forcing_ratio)
            mel = self.frames(hidden).reshape(batch, steps * self.r, self.n_mels).transpose(1, 2)
            return mel, self.gate_projection(hidden).squeeze(2), alignments
        free_running = teacher_forcing_ratio < 1.0
        prenet_out = None if free_running else self.prenet_input(inputs)  # all steps at once
        processed_memory = self.attention.memory_layer(memory)
        state = self.initial_state(memory)
        projection_inputs, alignments = [], []
        own_frame = None
        for i in range(steps):
            if free_running:
                frame = inputs[:, i]
                if own_frame is not None:
                    use_own = torch.rand(batch, 1, device=memory.device) >= teacher_forcing_ratio
                    frame = torch.where(use_own, own_frame.to(frame.dtype), frame)
                step_input = self.prenet_input(frame)
            else:
                step_input = prenet_out[:, i]
            hidden = self.step(step_input, state, memory, processed_memory, text_mask)
            projection_inputs.append(hidden)
            alignments.append(state.weights)
            if free_running:
                own_frame = self.frames(hidden)[:, -1]
                own_frame = own_frame.detach()
        hidden = torch.stack(projection_inputs, dim=1)  # [B, steps, H]
        mel = self.frames(hidden).reshape(batch, steps * self.r, self.n_mels).transpose(1, 2)
        gate = self.gate_projection(hidden).squeeze(2)
        return mel, gate, torch.stack(alignments, dim=1)

    @torch.no_grad()
    def infer(self, memory, text_mask, max_steps: torch.Tensor, gate_threshold: float,
              gate_threshold_start: float | None = None,
              attention_window: tuple[int, int] | None = None):
        """Free running: each step feeds its own last frame back. An utterance stops when its gate
        probability exceeds the stop threshold (see `stop_threshold`) or at its own `max_steps`.
        `attention_window` = (backward, forward) restricts each step's attention to symbols
        [peak - backward, peak + forward] around the previous step's peak (ESPnet's attention
        constraint), which stops skips and repeats at the cost of never recovering a lost place."""
        batch = memory.size(0)
        processed_memory = self.attention.memory_layer(memory)
        state = self.initial_state(memory)
        positions = torch.arange(text_mask.size(1), device=memory.device)[None, :]
        last_symbol = (text_mask.sum(dim=1) - 1).clamp(min=1)
        frame = memory.new_zeros(batch, self.n_mels)
        finished = torch.zeros(batch, dtype=torch.bool, device=memory.device)
        stopped_by_gate = torch.zeros_like(finished)
        lengths = torch.zeros(batch, dtype=torch.long, device=memory.device)
        mels, gates, alignments = [], [], []
        for i in range(int(max_steps.max())):
            mask = text_mask
            if attention_window is not None:
                # Step 0 has all-zero weights, so its window starts at symbol 0.
                peak = state.weights.argmax(dim=1, keepdim=True)
                backward, forward = attention_window
                mask = text_mask & (positions >= peak - backward) & (positions <= peak + forward)
            hidden = self.step(self.prenet_input(frame), state, memory, processed_memory, mask)
            mel = self.frames(hidden)
            gate = self.gate_projection(hidden).squeeze(1)
            mels.append(mel)
            gates.append(gate)
            alignments.append(state.weights)
            frame = mel[:, -1]
            lengths = torch.where(finished, lengths, lengths + 1)
            progress = state.weights.argmax(dim=1) / last_symbol
            threshold = stop_threshold(progress, gate_threshold, gate_threshold_start)
            gate_fired = torch.sigmoid(gate) > threshold
            stopped_by_gate |= gate_fired & ~finished
            finished |= gate_fired | (lengths >= max_steps)
            if bool(finished.all()):
                break
        mel = torch.cat(mels, dim=1).transpose(1, 2)
        return (mel, torch.stack(gates, dim=1), torch.stack(alignments, dim=1),
                lengths * self.r, stopped_by_gate)


def stop_threshold(progress: torch.Tensor, gate_threshold: float,
                   gate_threshold_start: float | None) -> torch.Tensor:
    """Gate probability needed to stop, given how far attention has read through the text:
    theta(p) = theta_start + (theta - theta_start) * clamp(p, 0, 1), p = argmax_n A[t, n] / (N - 1).
    With theta_start > theta a stop is hard while the text is unread (a premature stop would cut
    words) and reaches the plain threshold theta at the last symbol. None: theta at every step."""
    if gate_threshold_start is None:
        return torch.full_like(progress, gate_threshold, dtype=torch.float32)
    return gate_threshold_start + (gate_threshold - gate_threshold_start) * progress.float().clamp(0, 1)


class Postnet(nn.Module):
    """Five 1-D convolutions (tanh on all but the last) predicting a residual on the mel."""

    def __init__(self, config: ModelConfig, n_mels: int):
        super().__init__()
        channels = [n_mels] + [config.postnet_channels] * (config.postnet_layers - 1) + [n_mels]
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(a, b, config.postnet_kernel_size, padding=config.postnet_kernel_size // 2),
                nn.BatchNorm1d(b),
            )
            for a, b in zip(channels, channels[1:])
        )
        self.dropout = BitDropout(config.postnet_dropout)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = mel
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = torch.tanh(x)
            x = self.dropout(x)
        return x


class CtcRecognizer(nn.Module):
    """A small recognizer reading mel frames and predicting the symbols with CTC; trained with
    the acoustic model, its loss pushes the decoder to produce mels in which the text can be
    heard, which penalises skipped and repeated words (the "MMI" alignment regulariser)."""

    def __init__(self, n_mels: int, dim: int, n_symbols: int):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, dim, kernel_size=5, padding=2)
        self.rnn = nn.GRU(dim, dim // 2, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * (dim // 2), n_symbols + 1)  # + the CTC blank (last index)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel [B, n_mels, T] -> log-probabilities [T, B, n_symbols + 1] (ctc_loss layout)."""
        hidden, _ = self.rnn(F.relu(self.conv(mel)).transpose(1, 2))
        return F.log_softmax(self.output(hidden).float(), dim=2).transpose(0, 1)


class Tacotron2(nn.Module):
    def __init__(self, config: ModelConfig, n_symbols: int, n_mels: int, n_speakers: int = 0):
        """`n_speakers`: rows of the speaker table (model.speaker_dim > 0 needs at least one)."""
        super().__init__()
        if config.speaker_dim > 0 and n_speakers < 1:
            raise ValueError("model.speaker_dim > 0 needs the number of speakers (n_speakers >= 1)")
        self.config = config
        self.n_mels = n_mels
        self.embedding = nn.Embedding(n_symbols, config.embedding_dim)
        # Embedding init as in the reference implementation: uniform with std of Xavier.
        bound = math.sqrt(3.0) * math.sqrt(2.0 / (n_symbols + config.embedding_dim))
        self.embedding.weight.data.uniform_(-bound, bound)
        self.encoder = Encoder(config)
        self.speaker_embedding = (nn.Embedding(n_speakers, config.speaker_dim)
                                  if config.speaker_dim > 0 else None)
        self.decoder = Decoder(config, n_mels)
        self.postnet = Postnet(config, n_mels)
        self.coarse_decoder = (Decoder(config, n_mels, config.ddc_reduction_factor)
                               if config.ddc_reduction_factor else None)
        self.ctc_recognizer = (CtcRecognizer(n_mels, config.ctc_recognizer_dim, n_symbols)
                               if config.ctc_recognizer_dim else None)

    @property
    def reduction_factor(self) -> int:
        return self.config.reduction_factor

    def encode(self, text: torch.Tensor, text_lengths: torch.Tensor,
               speakers: torch.Tensor | None = None) -> torch.Tensor:
        """memory [B, N, encoder_dim (+ speaker_dim)]: `speakers` [B] ids, needed exactly when the
        model has a speaker table; each row's speaker vector is repeated at every symbol."""
        return self.add_speaker(self.encoder(self.embedding(text).transpose(1, 2), text_lengths), speakers)

    def add_speaker(self, encoder_outputs: torch.Tensor, speakers: torch.Tensor | None) -> torch.Tensor:
        """The memory attention reads: encoder outputs [B, N, encoder_dim], with a speaker table
        each row's speaker vector concatenated at every symbol (see `encode`)."""
        if (self.speaker_embedding is None) != (speakers is None):
            raise ValueError("speaker ids are needed by, and only by, a model with model.speaker_dim > 0")
        if self.speaker_embedding is None:
            return encoder_outputs
        voice = self.speaker_embedding(speakers)[:, None, :].expand(-1, encoder_outputs.size(1), -1)
        return torch.cat([encoder_outputs, voice.to(encoder_outputs.dtype)], dim=2)

    def forward(self, text, text_lengths, mels, mel_lengths,
                teacher_forcing_ratio: float = 1.0, speakers=None) -> TacotronOutput:
        """text [B, N] ids, text_lengths [B], mels [B, n_mels, T] with T a multiple of r and
        padded with silence, mel_lengths [B] true frame counts, speakers [B] ids (see `encode`)."""
        memory = self.encode(text, text_lengths, speakers)
        text_mask = lengths_to_mask(text_lengths, text.size(1))
        mel, gate, alignments = self.decoder(memory, text_mask, mels, teacher_forcing_ratio)
        # Frames past the end get no loss, so the decoder's output there drifts freely; left in,
        # it would dominate the postnet's BatchNorm statistics. Show the postnet silence instead.
        frame_mask = lengths_to_mask(mel_lengths, mels.size(2))[:, None, :]
        mel = torch.where(frame_mask, mel, mels.to(mel.dtype))
        output = TacotronOutput(mel, mel + self.postnet(mel), gate, alignments)
        if self.coarse_decoder is not None:
            coarse_r = self.coarse_decoder.r
            padded = F.pad(mels, (0, (-mels.size(2)) % coarse_r), mode="replicate")
            output.mel_coarse, _, output.alignments_coarse = self.coarse_decoder(
                memory, text_mask, padded, teacher_forcing_ratio)
        if self.ctc_recognizer is not None:
            output.ctc_log_probs = self.ctc_recognizer(output.mel_postnet)
        return output

    @torch.no_grad()
    def infer(self, text, text_lengths, max_frames: torch.Tensor, gate_threshold: float,
              gate_threshold_start: float | None = None,
              attention_window: tuple[int, int] | None = None, speakers=None) -> TacotronOutput:
        """Free-running synthesis; `max_frames` [B] caps each utterance's output length. The stop
        rule and the attention window are described at `Decoder.infer`; `speakers` at `encode`."""
        memory = self.encode(text, text_lengths, speakers)
        text_mask = lengths_to_mask(text_lengths, text.size(1))
        max_steps = torch.div(max_frames + self.reduction_factor - 1, self.reduction_factor,
                              rounding_mode="floor").clamp(min=1)
        mel, gate, alignments, lengths, stopped = self.decoder.infer(
            memory, text_mask, max_steps, gate_threshold, gate_threshold_start, attention_window)
        return TacotronOutput(mel, mel + self.postnet(mel), gate, alignments, lengths, stopped)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
