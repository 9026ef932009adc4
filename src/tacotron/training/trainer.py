"""Tacotron 2 training: `TacotronTask` is what is trained in the run loop (training/loop.py):
model, optimizer, loss and data; the step with this step's schedule (phase, controller knobs,
guided attention, teacher forcing); validation with a free-running sample; the phases and the
controller's actions (training/controller.py), applied here, visibly, by `apply_actions`.

`Trainer(config, prepared, run_dir, callbacks=...)` builds the run loop with this task (a `RunLoop`;
what is Tacotron's is its `task`), the name the CLI, the demo, the tuner and the tests use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from tacotron.config import Config, TrainConfig, config_from_dict
from tacotron.data.dataset import Batch, BucketBatchSampler, MelTextCollate, MelTextDataset
from tacotron.data.prepare import PreparedData
from tacotron.errors import UserError
from tacotron.model.alignment_metrics import mean_scores, score_batch
from tacotron.model.losses import (LossWeights, Tacotron2Loss, Targets, adversarial_mel_loss,
                                   discriminator_loss, gate_scores, masked_mel_losses)
from tacotron.model.mel_discriminator import MelDiscriminator, matched_crops
from tacotron.model.tacotron2 import Tacotron2, lengths_to_mask
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.voice import VOICE_ENTRY, make_voice
from tacotron.text import get_frontend
from tacotron.training.callbacks import Callback, ValidationSample
from tacotron.training.controller import Action, Controller
from tacotron.training.loop import RunLoop
from tacotron.training.optimizers import load_optimizer_state, with_fused_kernel
from tacotron.training.schedules import PHASES, Controls, StepSchedule, step_schedule
from tacotron.training.warm_start import drop_frozen_gradients, frozen_parameters, warm_start


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """Linear warmup, then exponential decay with a floor:
    lr(s) = max(lr_min, lr_0 * min(1, (s+1)/warmup) * 0.5 ** (max(0, s - warmup) / half_life))."""
    warmup = min(1.0, (step + 1) / max(config.warmup_steps, 1))
    decay = 0.5 ** (max(0, step - config.warmup_steps) / max(config.lr_half_life_steps, 1))
    return max(config.min_learning_rate, config.learning_rate * warmup * decay)


def adam(parameters, train: TrainConfig) -> torch.optim.Adam:
    """The model's Adam (fused where available: 3.4 against 10.2 ms per cpu-tiny step, one thread)."""
    return with_fused_kernel(torch.optim.Adam, parameters, lr=train.learning_rate, betas=(0.9, 0.999),
                             eps=1e-6, weight_decay=train.weight_decay)


PHASE_INDEX = {name: index for index, name in enumerate(PHASES)}
# The speaker-table name of a single-speaker data set's voice when its model has a table (fine-tuning
# a multi-speaker source); synthesis speaks as it when no speaker is named.
NEW_SPEAKER = "speaker"


def set_phase(run, to: str, reason: str) -> None:
    """The one way a phase changes: the controls move and a `phase` event tells it."""
    controls = run.controls
    previous = controls.phase
    controls.phase, controls.phase_start = to, run.step
    run.emit("phase", **{"from": previous, "to": to, "reason": reason})


def apply_actions(run, actions: list[Action]) -> None:
    """Apply the controller's actions to `run` (its `controls`, `step`, `emit`, `request_stop`,
    `restore_last_good`), each told as an event: `alert`, `phase`, `autofix` {rule, observed,
    action, before, after} (before/after: the one changed value, or a dict of them)."""
    for action in actions:
        if action.kind == "alert":
            run.emit("alert", rule=action.rule, message=action.message, **action.details)
            continue
        controls, message = run.controls, action.message
        if action.restore:
            restored = run.restore_last_good()
            message += f", restored {restored.name if restored else 'nothing (no checkpoint yet)'}"
        before = {key: getattr(controls, key) for key in action.changes}
        for key, value in action.changes.items():
            if key == "phase":
                if value != controls.phase:
                    set_phase(run, value, action.message)
            else:
                setattr(controls, key, value)
        if action.kind == "autofix":
            after = {key: getattr(controls, key) for key in action.changes}
            if action.stop:
                before, after = "training", "stopped"
            elif len(before) == 1:
                (before,), (after,) = before.values(), after.values()
            run.emit("autofix", rule=action.rule, observed=action.observed, action=message,
                     before=before, after=after)
        if action.stop:
            run.request_stop(action.stop)


class TacotronTask:
    """Tacotron 2 in the run loop (see training/loop.py for what a task provides)."""

    def build(self, loop: RunLoop) -> None:
        """Model, optimizer, loss and data loaders (`train_loader` over `sampler`, `val_loader`)."""
        self.loop = loop
        config, data, train = loop.config, loop.data, loop.config.train
        self.config, self.data, self.device = config, data, loop.device
        self.controls = Controls.initial(config)  # phases and controller knobs
        self.controller = Controller(config)
        self.frontend = get_frontend(config.text.language, config.text.input)
        # The speaker table's rows, in order (saved with the weights, as the symbols are). Data
        # naming speakers trains one pooled voice unless model.speaker_dim > 0.
        self.speakers = data.speakers if config.model.speaker_dim > 0 else []
        if config.model.speaker_dim > 0 and not self.speakers:
            if not train.init_from:
                raise UserError("model.speaker_dim > 0 needs data whose utterances name their speaker "
                                "(a fourth metadata.csv column, or SPEAKER/UTTERANCE.wav folders)")
            # One voice fine-tuning a multi-speaker source keeps its shape: a table of one new speaker.
            self.speakers = [NEW_SPEAKER]
        self.model = Tacotron2(config.model, len(self.frontend.symbols), config.audio.n_mels,
                               len(self.speakers)).to(self.device)
        for decoder in (self.model.decoder, self.model.coarse_decoder):
            if decoder is not None:  # the fused training loop or the reference (train.fused_decoder)
                decoder.fused_training = train.fused_decoder
        new_run = not ckpt.step_checkpoints(loop.run_dir)  # a resumed run loads its own weights and statistics
        if train.init_from and new_run:
            report = warm_start(self.model, self.frontend.symbols, train.init_from,
                                train.init_ignore, self.speakers)
            if loop.is_main and loop.progress:
                print(report.table(), file=sys.stderr)
            loop.emit("warm_start", **report.event_fields())
        self.frozen = frozen_parameters(self.model, train.freeze)
        self.ddp_model = self.distributed(self.model)
        self.optimizer = adam(self.model.parameters(), train)
        self.criterion = Tacotron2Loss(config.loss)
        # The adversarial mel loss's discriminator (loss.adversarial_weight; None when off), with
        # its own Adam at the model's learning rate (betas of GAN practice: 0.5, 0.9).
        self.discriminator = self.ddp_discriminator = None
        if config.loss.adversarial_weight > 0:
            self.discriminator = MelDiscriminator(config.audio.n_mels,
                                                  config.loss.adversarial_channels).to(self.device)
            self.ddp_discriminator = self.distributed(self.discriminator)
            self.discriminator_optimizer = torch.optim.Adam(
                self.discriminator.parameters(), lr=train.learning_rate, betas=(0.5, 0.9))

        pad_value = math.log(config.audio.log_floor)
        collate = MelTextCollate(config.model.reduction_factor, pad_value)
        train_set = MelTextDataset(data.train, self.frontend, self.speakers)
        if len(train_set) == 0:
            raise UserError("the training split is empty: nothing to train on")
        # A warm start keeps its source's frame statistics (unless told to take the data's), a resumed
        # run its own.
        if train.standardize_frames and new_run and (not train.init_from or train.warm_start_statistics == "data"):
            self.model.decoder.set_mel_statistics(*(t.to(self.device) for t in train_set.mel_statistics()))
        if self.discriminator is not None and new_run:  # it reads patches as the model writes frames
            self.discriminator.set_mel_statistics(self.model.decoder.mel_mean, self.model.decoder.mel_std)
        self.speaking_rate = train_set.speaking_rate()
        self.sampler = BucketBatchSampler(train_set.frames, train.batch_size, train.seed,
                                          rank=loop.rank, world_size=loop.world_size)
        # Each iter(loader) draws a seed from its generator; a private one keeps that draw out
        # of the global RNG stream, so a resumed run's dropout matches an uninterrupted one.
        self.train_loader = DataLoader(train_set, batch_sampler=self.sampler, collate_fn=collate,
                                       num_workers=train.num_workers,
                                       pin_memory=self.device.type == "cuda",
                                       persistent_workers=train.num_workers > 0,
                                       generator=torch.Generator().manual_seed(train.seed))
        val_set = MelTextDataset(data.val, self.frontend, self.speakers)
        self.val_loader = DataLoader(val_set, batch_size=train.batch_size, shuffle=False,
                                     collate_fn=collate, num_workers=0,
                                     generator=torch.Generator().manual_seed(train.seed))

    def distributed(self, module: torch.nn.Module) -> torch.nn.Module:
        """`module` wrapped for DDP when the run has several processes (gradients averaged in
        backward), else itself."""
        if self.loop.world_size == 1:
            return module
        return torch.nn.parallel.DistributedDataParallel(
            module, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """The checkpoint entries of what is trained (weights, optimizer, the voice manifest: all that
        synthesis, export and warm start read of it, runs/voice.py)."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "symbols": list(self.frontend.symbols),
            "speakers": list(self.speakers),
            "frames_per_symbol": self.speaking_rate,
            "controls": dataclasses.asdict(self.controls),
        }
        if self.discriminator is not None:
            state["discriminator"] = {"model": self.discriminator.state_dict(),
                                      "optimizer": self.discriminator_optimizer.state_dict()}
        provenance = {"step": self.step, "val_metrics": self.loop.last_val_metrics}
        return {**state, VOICE_ENTRY: make_voice(self.config.to_dict(), {**state, **provenance})}

    def load_weights(self, state: dict[str, Any], path: Path) -> None:
        saved = config_from_dict(state["config"])
        if saved.model != self.config.model or saved.audio != self.config.audio:
            raise UserError(
                f"{self.loop.run_dir} holds a run with a different model or audio config "
                f"({path.name}); use another --out folder or the same settings")
        if state["symbols"] != list(self.frontend.symbols):
            raise UserError(
                f"{self.loop.run_dir} holds a run that reads text.input={saved.text.input} ({path.name}); "
                f"use another --out folder or the same text.input")
        if state.get("speakers", []) != self.speakers:
            raise UserError(
                f"{self.loop.run_dir} holds a run with the speakers {state.get('speakers', [])} "
                f"({path.name}), this data has {self.speakers}; use another --out folder")
        self.model.load_state_dict(state["model"])
        load_optimizer_state(self.optimizer, state["optimizer"])
        if self.discriminator is not None and "discriminator" in state:  # else it starts afresh
            self.discriminator.load_state_dict(state["discriminator"]["model"])
            load_optimizer_state(self.discriminator_optimizer, state["discriminator"]["optimizer"])

    def load_state(self, state: dict[str, Any], path: Path) -> None:
        self.load_weights(state, path)
        if "controls" in state:
            self.controls = Controls(**state["controls"])

    def has_validation(self) -> bool:
        return len(self.data.val) > 0

    # ------------------------------------------------------------------ what the run sees
    @property
    def step(self) -> int:
        return self.loop.step

    def emit(self, kind: str, **fields: Any):
        return self.loop.emit(kind, **fields)

    def request_stop(self, reason: str) -> None:
        self.loop.request_stop(reason)

    # ------------------------------------------------------------------ steps
    def forward_losses(self, batch: Batch, schedule: StepSchedule, model=None):
        model = model or self.ddp_model
        with self.loop.autocast():
            output = model(batch.text, batch.text_lengths, batch.mels, batch.mel_lengths,
                           teacher_forcing_ratio=schedule.teacher_forcing,
                           speakers=batch.speakers if self.speakers else None)
        targets = Targets(batch.mels, batch.mel_lengths, batch.text_lengths,
                          self.config.model.reduction_factor, batch.text)
        weights = LossWeights(schedule.guided_weight, schedule.guided_sigma,
                              schedule.gate_pos_weight)
        return output, targets, self.criterion(output, targets, weights)

    def train_step(self, micro_batches: list[Batch]) -> dict[str, float]:
        """One optimizer step over `grad_accumulation_steps` micro-batches, with this step's
        schedule (phase, controller knobs, guided attention, teacher forcing)."""
        train, scaler = self.config.train, self.loop.scaler
        schedule = step_schedule(self.step, self.controls, self.config)
        lr = learning_rate_at(self.step, train) * schedule.lr_scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        totals: dict[str, float] = {}
        for index, batch in enumerate(micro_batches):
            sync = index == len(micro_batches) - 1 or self.loop.world_size == 1
            context = contextlib.nullcontext() if sync else self.ddp_model.no_sync()
            with context:
                batch = batch.to(self.device)
                output, _, losses = self.forward_losses(batch, schedule)
                crops = None if self.discriminator is None else self.add_adversarial_loss(output, batch, losses)
                scaler.scale(losses["total"] / len(micro_batches)).backward()
            if crops is not None:
                losses["discriminator"] = self.discriminator_step(*crops, lr)
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach()) / len(micro_batches)
        if self.loop.world_size > 1:
            # The step's losses averaged over all ranks' batches, like the gradients: what is
            # logged is the global batch's loss, and the skip below is decided alike everywhere.
            summed = torch.tensor(list(totals.values()), dtype=torch.float64, device=self.device)
            dist.all_reduce(summed)
            totals = dict(zip(totals, (summed / self.loop.world_size).tolist()))
        drop_frozen_gradients(self.frozen, self.step, train.freeze_steps)
        scaler.unscale_(self.optimizer)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                                         train.grad_clip_norm))
        exploding = self.config.autofix.exploding_grad_norm
        if not (math.isfinite(totals["total"]) and math.isfinite(grad_norm)):
            totals["skipped_nonfinite"] = 1.0  # a NaN/Inf step must not poison the weights
        elif exploding > 0 and grad_norm > exploding:
            totals["skipped_exploding"] = 1.0  # clipping would still apply a garbage direction
        else:
            scaler.step(self.optimizer)
        scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return {**totals, "lr": lr, "grad_norm": grad_norm, **dataclasses.asdict(schedule),
                "phase": float(PHASE_INDEX[self.controls.phase])}

    def add_adversarial_loss(self, output, batch: Batch, losses: dict[str, torch.Tensor]):
        """Add loss.adversarial_weight x the adversarial mel term (model/losses.py) of matched crops
        of the postnet output and the recording to `losses`; returns the crops (recording,
        prediction) for the discriminator's step, or None when no utterance is long enough."""
        predicted, recorded = matched_crops(output.mel_postnet, batch.mels, batch.mel_lengths,
                                            self.config.loss.adversarial_crop_frames)
        fake_logits, fake_features = self.ddp_discriminator(predicted)
        with torch.no_grad():
            _, real_features = self.discriminator(recorded)
        term = adversarial_mel_loss(fake_logits, real_features, fake_features)
        losses["adversarial"] = term
        losses["total"] = losses["total"] + self.config.loss.adversarial_weight * term
        return recorded, predicted.detach()

    def discriminator_step(self, recorded: torch.Tensor, predicted: torch.Tensor, lr: float) -> torch.Tensor:
        """One Adam step of the discriminator on recorded against predicted crops (its gradients
        from the model's adversarial term are dropped first; one forward over both, as DDP wants);
        returns its loss."""
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        logits, _ = self.ddp_discriminator(torch.cat([recorded, predicted]))
        loss = discriminator_loss(logits[:len(recorded)], logits[len(recorded):])
        loss.backward()
        for group in self.discriminator_optimizer.param_groups:
            group["lr"] = lr
        self.discriminator_optimizer.step()
        return loss.detach()

    def decide(self, rule, *inputs) -> None:
        """Run one controller rule and apply its actions. Under DDP rank 0 decides and every rank
        applies rank 0's actions to rank 0's controls (the rule updates the controller's memory
        in them), so the ranks cannot take different decisions and drift apart."""
        actions = rule(self.step, *inputs, self.controls) if self.loop.is_main else None
        actions, self.controls = self.loop.agreed((actions, self.controls))
        apply_actions(self, actions)

    def after_step(self, logs: dict[str, float]) -> None:
        """The controller's step rules."""
        self.decide(self.controller.after_step, logs)

    def after_validation(self, metrics: dict[str, float]) -> dict[str, float]:
        """Phases and the controller's validation rules; the phase is logged with the metrics."""
        self.controls.mel_l1_history.append(metrics["mel_l1"])
        for rule in self.controller.validation_rules():
            self.decide(rule, metrics)
        return {"phase": float(PHASE_INDEX[self.controls.phase])}

    def restore_last_good(self) -> Path | None:
        """Load weights and optimizer from the newest checkpoint before this step whose saved
        validation metrics are finite (the counters go on: the data stream continues). Rank 0
        chooses the checkpoint; every rank loads it."""
        chosen = None
        candidates = ckpt.step_checkpoints(self.loop.run_dir) if self.loop.is_main else []
        for step, path in reversed(candidates):
            if step >= self.step:
                continue
            try:
                state = ckpt.load_checkpoint(path)
            except UserError:
                continue
            values = [*state.get("val_metrics", {}).values()]
            if all(math.isfinite(v) for v in values if isinstance(v, float)):
                chosen = path, state
                break
        path = self.loop.agreed(chosen[0] if chosen else None)
        if path is not None:
            self.load_weights(chosen[1] if chosen else self.loop.read_rank0_checkpoint(path), path)
        return path

    @torch.no_grad()
    def validate(self) -> tuple[dict[str, float], ValidationSample | None]:
        """Teacher-forced metrics over the whole validation split, plus one free-running sample."""
        self.model.eval()
        schedule = dataclasses.replace(step_schedule(self.step, self.controls, self.config),
                                       teacher_forcing=1.0)
        sums = {"loss": 0.0, "mel_l1": 0.0, "gate_accuracy": 0.0, "stop_error": 0.0,
                "gate_missed_rate": 0.0, "gate_early_rate": 0.0}
        frames = utterances = 0
        scores = []
        first = None
        for batch in self.val_loader:
            batch = batch.to(self.device)
            output, targets, losses = self.forward_losses(batch, schedule, model=self.model)
            frame_mask = lengths_to_mask(batch.mel_lengths, batch.mels.size(2))
            _, postnet_l1 = masked_mel_losses(output.mel_postnet.float(), batch.mels, frame_mask)
            batch_frames = int(batch.mel_lengths.sum())
            sums["loss"] += float(losses["total"]) * batch_frames
            sums["mel_l1"] += float(postnet_l1) * batch_frames
            frames += batch_frames
            scores += score_batch(output.alignments.float(), targets.step_lengths,
                                  batch.text_lengths)
            gate = gate_scores(output.gate_logits, targets.step_lengths,
                               self.config.inference.gate_threshold)
            sums["gate_accuracy"] += float(gate.accuracy.sum())
            sums["stop_error"] += float(gate.stop_error.sum())
            sums["gate_missed_rate"] += float(gate.missed.sum())
            sums["gate_early_rate"] += float(gate.early.sum())
            utterances += len(gate.accuracy)
            if first is None:
                first = (batch, output, targets)
        metrics = {key: sums[key] / max(frames, 1) for key in ("loss", "mel_l1")}
        metrics.update({key: sums[key] / max(utterances, 1) for key in sums
                        if key not in ("loss", "mel_l1")})
        metrics.update(mean_scores(scores))
        sample = self.free_running_sample(*first) if first and self.loop.is_main else None
        self.model.train()
        return metrics, sample

    def free_running_sample(self, batch: Batch, output, targets) -> ValidationSample:
        steps = int(targets.step_lengths[0])
        n = int(batch.text_lengths[0])
        text = batch.text[:1, :n]
        inferred = self.model.infer(text, batch.text_lengths[:1],
                                    max_frames=torch.tensor([steps * 3 * self.model.reduction_factor],
                                                            device=self.device),
                                    gate_threshold=self.config.inference.gate_threshold,
                                    speakers=batch.speakers[:1] if self.speakers else None)
        frames = int(inferred.mel_lengths[0])
        return ValidationSample(
            text=self.data.val[0].normalized if self.data.val else "",
            teacher_forced=output.alignments[0, :steps, :n].float().cpu().numpy(),
            free_running=inferred.alignments[0, :, :n].float().cpu().numpy(),
            mel=inferred.mel_postnet[0, :, :frames].float().cpu().numpy(),
        )

    def progress_fields(self, logs: dict[str, float], val: dict[str, float]) -> dict[str, str]:
        fields = {"loss": f"{logs['total']:.3f}"}
        if val:
            fields["diag"] = f"{val['diagonality']:.2f}"
        return fields


# Capitalised: the name callers know from when it was a class. It builds a RunLoop around the task.
def Trainer(config: Config, data: PreparedData, run_dir: str | Path,
            callbacks: list[Callback] | None = None, progress: bool = True) -> RunLoop:
    """The run loop with a `TacotronTask`: `Trainer(config, prepared, run_dir, callbacks=...)`,
    then `fit()`. The model, controls and sampler are the task's: `trainer.task.model`."""
    return RunLoop(config, data, run_dir, TacotronTask(), callbacks, progress)
