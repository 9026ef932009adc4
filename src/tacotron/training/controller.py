"""The auto-fix controller: reads step and validation metrics and corrects the run.

Rules (thresholds in AutofixConfig; each rule acts at most `max_actions` times and waits
`cooldown_steps` between actions; rules on validation metrics need `patience` observations in a
row, which is the hysteresis that keeps one noisy validation from acting):

    alignment_not_formed  diagonality < schedule.quality_diagonality at validations from
                          alignment_expected_step on -> guided weight up, LR down
    nonfinite_loss        the step's loss or gradient was NaN/Inf (the step was skipped)
    exploding_gradient    gradient norm > exploding_grad_norm (the step was skipped)
                          -> both: restore the last good checkpoint, LR down
    vanishing_gradient    gradient norm < vanishing_grad_norm for vanishing_steps steps -> alert
    gate_missed / gate_early  once aligned (phase quality_optimization or later): share of
                          validation utterances whose gate misses its stop step / fires early
                          > gate_error_rate -> gate positive weight up / down (the adaptive
                          gate loss)
    validation_plateau    no relative mel L1 improvement >= plateau_min_delta in plateau_patience
                          validations -> LR down; after max_actions, early stop

Every action is an `autofix` event {rule, observed, action, before, after}; nothing it does is
invisible. Its memory (counts, last steps, streaks) lives in `trainer.controls`, so it survives
a resume.
"""

from __future__ import annotations

import math

from tacotron.config import AutofixConfig
from tacotron.training.trainer import Callback, Trainer


class AutoFix(Callback):
    def __init__(self, config: AutofixConfig):
        self.config = config

    # ------------------------------------------------------------------ bookkeeping
    def may_act(self, trainer: Trainer, rule: str) -> bool:
        controls = trainer.controls
        last = controls.last_action.get(rule)
        cooled = last is None or trainer.step - last >= self.config.cooldown_steps
        return cooled and controls.actions.get(rule, 0) < self.config.max_actions

    def acted(self, trainer: Trainer, rule: str, observed, action: str, before, after) -> None:
        controls = trainer.controls
        controls.actions[rule] = controls.actions.get(rule, 0) + 1
        controls.last_action[rule] = trainer.step
        controls.streaks[rule] = 0
        trainer.emit("autofix", rule=rule, observed=observed, action=action, before=before,
                     after=after)

    def streak(self, trainer: Trainer, rule: str, observed_now: bool) -> int:
        """Consecutive observations of a condition (0 once it is not seen)."""
        streaks = trainer.controls.streaks
        streaks[rule] = streaks.get(rule, 0) + 1 if observed_now else 0
        return streaks[rule]

    def lower_lr(self, trainer: Trainer) -> tuple[float, float]:
        before = trainer.controls.lr_scale
        trainer.controls.lr_scale = before * self.config.lr_factor
        return before, trainer.controls.lr_scale

    # ------------------------------------------------------------------ step rules
    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        for rule, flag in (("nonfinite_loss", "skipped_nonfinite"),
                           ("exploding_gradient", "skipped_exploding")):
            if logs.get(flag) and self.may_act(trainer, rule):
                restored = trainer.restore_last_good()
                before, after = self.lower_lr(trainer)
                observed = logs["total"] if rule == "nonfinite_loss" else logs["grad_norm"]
                self.acted(trainer, rule, observed=observed,
                           action=f"skipped the step, restored "
                                  f"{restored.name if restored else 'nothing (no checkpoint yet)'}"
                                  f", LR scale x{self.config.lr_factor}",
                           before=before, after=after)
                return
        vanishing = (math.isfinite(logs["grad_norm"])
                     and logs["grad_norm"] < self.config.vanishing_grad_norm)
        if (self.streak(trainer, "vanishing_gradient", vanishing) >= self.config.vanishing_steps
                and self.may_act(trainer, "vanishing_gradient")):
            trainer.controls.actions["vanishing_gradient"] = (
                trainer.controls.actions.get("vanishing_gradient", 0) + 1)
            trainer.controls.last_action["vanishing_gradient"] = trainer.step
            trainer.emit("alert", rule="vanishing_gradient", observed=logs["grad_norm"],
                         message=f"gradient norm below {self.config.vanishing_grad_norm} for "
                                 f"{self.config.vanishing_steps} steps: the model has stopped "
                                 "learning (check the learning rate and the data)")

    # ------------------------------------------------------------------ validation rules
    def on_validation_end(self, trainer: Trainer, metrics: dict[str, float], sample) -> None:
        self.check_alignment(trainer, metrics)
        # The stop token is judged once the attention has formed: before that every gate misses.
        aligned = trainer.controls.phase in ("quality_optimization", "fine_tuning")
        if self.config.adaptive_gate and aligned:
            self.check_gate(trainer, metrics)
        self.check_plateau(trainer)

    def check_alignment(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        rule = "alignment_not_formed"
        target = trainer.config.schedule.quality_diagonality
        late = trainer.step >= self.config.alignment_expected_step
        low = late and metrics["diagonality"] < target
        if self.streak(trainer, rule, low) < self.config.patience or not self.may_act(trainer,
                                                                                       rule):
            return
        controls = trainer.controls
        before = {"guided_weight": controls.guided_weight, "lr_scale": controls.lr_scale}
        controls.guided_weight = max(controls.guided_weight * self.config.guided_weight_raise,
                                     self.config.guided_weight_min)
        controls.lr_scale *= self.config.lr_factor
        if controls.phase in ("quality_optimization", "fine_tuning"):
            controls.phase, controls.phase_start = "alignment_learning", trainer.step
        after = {"guided_weight": controls.guided_weight, "lr_scale": controls.lr_scale}
        self.acted(trainer, rule, observed=metrics["diagonality"],
                   action=f"diagonality below {target} since step "
                          f"{self.config.alignment_expected_step}: guided attention weight up, "
                          "LR down", before=before, after=after)

    def check_gate(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        controls, config = trainer.controls, self.config
        missed = metrics.get("gate_missed_rate", 0.0) > config.gate_error_rate
        early = metrics.get("gate_early_rate", 0.0) > config.gate_error_rate
        for rule, seen, factor, metric in (("gate_missed", missed, config.gate_factor,
                                            "gate_missed_rate"),
                                           ("gate_early", early and not missed,
                                            1.0 / config.gate_factor, "gate_early_rate")):
            if self.streak(trainer, rule, seen) < config.patience:
                continue
            before = controls.gate_pos_weight
            after = min(config.gate_pos_weight_max,
                        max(config.gate_pos_weight_min, before * factor))
            if after == before or not self.may_act(trainer, rule):
                continue
            controls.gate_pos_weight = after
            self.acted(trainer, rule, observed=metrics[metric],
                       action=f"{metric} above {config.gate_error_rate}: gate positive weight "
                              f"x{factor:.3g}", before=before, after=after)

    def check_plateau(self, trainer: Trainer) -> None:
        rule = "validation_plateau"
        history = trainer.controls.mel_l1_history
        patience = self.config.plateau_patience
        if len(history) <= patience:
            return
        best_before = min(history[:-patience])
        best_recent = min(history[-patience:])
        if best_recent < best_before * (1.0 - self.config.plateau_min_delta):
            return
        last = trainer.controls.last_action.get(rule)
        if last is not None and trainer.step - last < self.config.cooldown_steps:
            return
        if trainer.controls.actions.get(rule, 0) < self.config.max_actions:
            before, after = self.lower_lr(trainer)
            self.acted(trainer, rule, observed=best_recent,
                       action=f"no mel L1 improvement of {self.config.plateau_min_delta:.1%} in "
                              f"{patience} validations: LR scale x{self.config.lr_factor}",
                       before=before, after=after)
        elif self.config.early_stop:
            self.acted(trainer, rule, observed=best_recent, action="early stop",
                       before="training", after="stopped")
            trainer.request_stop("early_stop")
