"""The one controller of a Tacotron run: reads step and validation metrics through one set of
rules and returns `Action`s; it changes nothing itself. The task applies each action visibly
(training/trainer.py `apply_actions`, after each rule): every change is an event, and every phase change,
whoever causes it, is a `phase` event.

Rules (thresholds in ScheduleConfig, AutofixConfig; switches schedule.phases, autofix.enabled
for the corrections and monitor.alerts for the alerts):

    phase                 the phase schedule (schedules.next_phase): forward when aligned or slowed
                          down, back to alignment_learning when the alignment is lost
    nan_loss (alert)      a non-finite training loss; once per streak of such steps
    nonfinite_loss        the step's loss or gradient was NaN/Inf (the step was skipped)
    exploding_gradient    gradient norm > exploding_grad_norm (the step was skipped)
                          -> both: restore the last good checkpoint, LR down
    vanishing_gradient    gradient norm < vanishing_grad_norm for vanishing_steps steps -> alert
    alignment             "formed" = validation diagonality >= schedule.quality_diagonality:
                          alert alignment_not_formed (from alignment_expected_step on) or
                          alignment_lost (formed before), once when the condition starts; and
                          alignment_not_formed after `patience` validations in a row -> guided
                          weight up, LR down, back to alignment_learning when aligned before
    gate_missed / gate_early  once aligned (phase quality_optimization or later): share of
                          validation utterances whose gate misses its stop step / fires early
                          > gate_error_rate -> gate positive weight up / down (adaptive gate)
    validation_plateau    no relative mel L1 improvement >= plateau_min_delta in the last
                          plateau_patience validations -> LR down; after max_actions, early
                          stop. The window restarts after each action (patience validations
                          after it are judged, not the ones that caused it).

Corrections act at most `max_actions` times per rule and wait `cooldown_steps` between actions;
rules on validation metrics need `patience` observations in a row (hysteresis: one noisy
validation does not act). The controller's memory (counts, last steps, streaks) lives in the
task's `Controls`, so it survives a resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tacotron.config import Config
from tacotron.training.schedules import Controls, next_phase

ALIGNED_PHASES = ("quality_optimization", "fine_tuning")


@dataclass
class Action:
    """What a rule decided. `kind`: "phase" (a schedule move), "autofix" (a correction) or
    "alert" (told, nothing changed). `changes`: control -> new value (lr_scale, guided_weight,
    gate_pos_weight, phase); `restore`: load the last good checkpoint first; `stop`: a stop
    reason for the run."""

    kind: str
    rule: str
    observed: Any
    message: str
    changes: dict[str, Any] = field(default_factory=dict)
    restore: bool = False
    stop: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # extra event fields of an alert


class Controller:
    def __init__(self, config: Config):
        self.config = config
        self.autofix = config.autofix
        self.corrects = config.autofix.enabled
        self.alerts = config.monitor.alerts
        self.phases = config.schedule.phases

    # ------------------------------------------------------------------ memory
    def may_act(self, controls: Controls, step: int, rule: str) -> bool:
        last = controls.last_action.get(rule)
        cooled = last is None or step - last >= self.autofix.cooldown_steps
        return cooled and controls.actions.get(rule, 0) < self.autofix.max_actions

    def acting(self, controls: Controls, step: int, rule: str) -> None:
        controls.actions[rule] = controls.actions.get(rule, 0) + 1
        controls.last_action[rule] = step
        controls.streaks[rule] = 0

    def streak(self, controls: Controls, rule: str, observed_now: bool) -> int:
        """Consecutive observations of a condition (0 once it is not seen)."""
        controls.streaks[rule] = controls.streaks.get(rule, 0) + 1 if observed_now else 0
        return controls.streaks[rule]

    # ------------------------------------------------------------------ step rules
    def after_step(self, step: int, logs: dict[str, float], controls: Controls) -> list[Action]:
        actions = []
        nonfinite = (not math.isfinite(logs.get("total", 0.0))
                     or logs.get("skipped_nonfinite", 0.0) > 0)
        if self.alerts and self.streak(controls, "nan_loss", nonfinite) == 1:
            actions.append(Action("alert", "nan_loss", logs.get("total"),
                                  f"training loss is {logs.get('total')} (the step was skipped)",
                                  details={"grad_norm": logs.get("grad_norm")}))
        if not self.corrects:
            return actions
        for rule, flag, observed in (("nonfinite_loss", "skipped_nonfinite", "total"),
                                     ("exploding_gradient", "skipped_exploding", "grad_norm")):
            if logs.get(flag) and self.may_act(controls, step, rule):
                self.acting(controls, step, rule)
                return [*actions, Action(
                    "autofix", rule, logs[observed], f"skipped the step, LR scale "
                    f"x{self.autofix.lr_factor}", restore=True,
                    changes={"lr_scale": controls.lr_scale * self.autofix.lr_factor})]
        vanishing = (math.isfinite(logs["grad_norm"])
                     and logs["grad_norm"] < self.autofix.vanishing_grad_norm)
        if (self.streak(controls, "vanishing_gradient", vanishing) >= self.autofix.vanishing_steps
                and self.may_act(controls, step, "vanishing_gradient")):
            self.acting(controls, step, "vanishing_gradient")
            actions.append(Action(
                "alert", "vanishing_gradient", logs["grad_norm"],
                f"gradient norm below {self.autofix.vanishing_grad_norm} for "
                f"{self.autofix.vanishing_steps} steps: the model has stopped learning (check "
                "the learning rate and the data)"))
        return actions

    # ------------------------------------------------------------------ validation rules
    def validation_rules(self):
        """The rules a validation runs, in order. Each reads the controls as the actions of the
        rules before it left them, so the caller applies each rule's actions before the next."""
        return (self.phase_rule, self.alignment_rule, self.gate_rule, self.plateau_rule)

    def phase_rule(self, step: int, metrics: dict[str, float], controls: Controls) -> list[Action]:
        if not self.phases:
            return []
        change = next_phase(controls.phase, step, metrics, controls.mel_l1_history,
                            self.config.schedule)
        if change is None:
            return []
        return [Action("phase", "phase", metrics.get("diagonality"), change.reason,
                       changes={"phase": change.to})]

    def alignment_rule(self, step: int, metrics: dict[str, float],
                       controls: Controls) -> list[Action]:
        diagonality = metrics.get("diagonality")
        if diagonality is None:
            return []
        target = self.config.schedule.quality_diagonality
        late = step >= self.autofix.alignment_expected_step
        formed = diagonality >= target
        actions = []
        if formed:
            controls.aligned_once = True
            controls.streaks["alignment_alert_open"] = 0
        elif self.alerts and not controls.streaks.get("alignment_alert_open"):
            if controls.aligned_once or late:
                rule, message = (("alignment_lost", "the alignment formed earlier and is now lost")
                                 if controls.aligned_once else
                                 ("alignment_not_formed", f"no alignment after {step} steps"))
                controls.streaks["alignment_alert_open"] = 1
                actions.append(Action("alert", rule, diagonality, message,
                                      details={"diagonality": round(diagonality, 4),
                                               "threshold": target}))
        rule = "alignment_not_formed"
        low = late and not formed
        if (not self.corrects or self.streak(controls, rule, low) < self.autofix.patience
                or not self.may_act(controls, step, rule)):
            return actions
        self.acting(controls, step, rule)
        changes = {"guided_weight": max(controls.guided_weight * self.autofix.guided_weight_raise,
                                        self.autofix.guided_weight_min),
                   "lr_scale": controls.lr_scale * self.autofix.lr_factor}
        if self.phases and controls.phase in ALIGNED_PHASES:
            changes["phase"] = "alignment_learning"
        actions.append(Action("autofix", rule, diagonality,
                              f"diagonality below {target} since step "
                              f"{self.autofix.alignment_expected_step}: guided attention weight "
                              "up, LR down", changes=changes))
        return actions

    def gate_rule(self, step: int, metrics: dict[str, float], controls: Controls) -> list[Action]:
        # The stop token is judged once the attention has formed: before that every gate misses.
        config = self.autofix
        if not (self.corrects and config.adaptive_gate and controls.phase in ALIGNED_PHASES):
            return []
        missed = metrics.get("gate_missed_rate", 0.0) > config.gate_error_rate
        early = metrics.get("gate_early_rate", 0.0) > config.gate_error_rate
        for rule, seen, factor, metric in (("gate_missed", missed, config.gate_factor,
                                            "gate_missed_rate"),
                                           ("gate_early", early and not missed,
                                            1.0 / config.gate_factor, "gate_early_rate")):
            if self.streak(controls, rule, seen) < config.patience:
                continue
            before = controls.gate_pos_weight
            after = min(config.gate_pos_weight_max,
                        max(config.gate_pos_weight_min, before * factor))
            if after == before or not self.may_act(controls, step, rule):
                continue
            self.acting(controls, step, rule)
            return [Action("autofix", rule, metrics[metric],
                           f"{metric} above {config.gate_error_rate}: gate positive weight "
                           f"x{factor:.3g}", changes={"gate_pos_weight": after})]
        return []

    def plateau_rule(self, step: int, metrics: dict[str, float],
                     controls: Controls) -> list[Action]:
        rule = "validation_plateau"
        if not self.corrects:
            return []
        history = controls.mel_l1_history
        patience = self.autofix.plateau_patience
        # The window restarts after each action: only validations after it are judged.
        if len(history) <= patience or len(history) - controls.plateau_since < patience:
            return []
        best_before = min(history[:-patience])
        best_recent = min(history[-patience:])
        if best_recent < best_before * (1.0 - self.autofix.plateau_min_delta):
            return []
        last = controls.last_action.get(rule)
        if last is not None and step - last < self.autofix.cooldown_steps:
            return []
        if controls.actions.get(rule, 0) < self.autofix.max_actions:
            self.acting(controls, step, rule)
            controls.plateau_since = len(history)
            return [Action("autofix", rule, best_recent,
                           f"no mel L1 improvement of {self.autofix.plateau_min_delta:.1%} in "
                           f"{patience} validations: LR scale x{self.autofix.lr_factor}",
                           changes={"lr_scale": controls.lr_scale * self.autofix.lr_factor})]
        if self.autofix.early_stop:
            self.acting(controls, step, rule)
            controls.plateau_since = len(history)
            return [Action("autofix", rule, best_recent, "early stop", stop="early_stop")]
        return []
