"""What changes while a Tacotron 2 trains: the guided-attention sigma and weight, the teacher
forcing ratio and the training phase. Pure functions of the step, the phase and the config, so a
resumed run computes exactly what the uninterrupted one would have.

Phases (each sets the guided-attention weight and an LR multiplier):
    pre_alignment         attention not yet formed; full guided weight
    alignment_learning    the diagonal is forming (validation diagonality >= 0.5); full weight
    quality_optimization  aligned (diagonality >= 0.9, monotonicity >= 0.9); the guided weight
                          decays toward its floor, the mels get the model's attention
    fine_tuning           validation mel L1 has slowed down; guided weight at its floor, LR lower
A validation that finds the alignment lost sends the run back to alignment_learning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tacotron.config import Config, ScheduleConfig

PHASES = ("pre_alignment", "alignment_learning", "quality_optimization", "fine_tuning")


def guided_attention_sigma(step: int, schedule: ScheduleConfig, sigma_end: float) -> float:
    """Linear annealing: sigma(s) = sigma_0 + (sigma_end - sigma_0) * min(1, s / anneal_steps)."""
    if schedule.guided_sigma_start is None or schedule.guided_sigma_anneal_steps <= 0:
        return sigma_end
    progress = min(1.0, step / schedule.guided_sigma_anneal_steps)
    return schedule.guided_sigma_start + (sigma_end - schedule.guided_sigma_start) * progress


def guided_attention_weight(step: int, phase: str, phase_start: int, base: float,
                            schedule: ScheduleConfig) -> float:
    """Full weight w_0 until aligned; in quality_optimization
    w(s) = floor + (w_0 - floor) * 0.5 ** ((s - s_phase) / half_life); in fine_tuning the floor.
    The floor never exceeds w_0 (a run with w_0 = 0 keeps 0)."""
    floor = min(schedule.guided_weight_floor, base)
    if phase == "quality_optimization":
        half_lives = (step - phase_start) / max(schedule.guided_decay_half_life_steps, 1)
        return floor + (base - floor) * 0.5 ** max(half_lives, 0.0)
    if phase == "fine_tuning":
        return floor
    return base


def teacher_forcing_ratio(step: int, schedule: ScheduleConfig) -> float:
    """1.0 for the first `constant` steps, then linear to the floor over `decay` steps:
    ratio(s) = max(floor, 1 - (1 - floor) * (s - constant) / decay)."""
    if step < schedule.teacher_forcing_constant_steps:
        return 1.0
    progress = (step - schedule.teacher_forcing_constant_steps) / max(
        schedule.teacher_forcing_decay_steps, 1)
    floor = schedule.teacher_forcing_floor
    return max(floor, 1.0 - (1.0 - floor) * progress)


def phase_lr_scale(phase: str, schedule: ScheduleConfig) -> float:
    return schedule.fine_tuning_lr_scale if phase == "fine_tuning" else 1.0


def relative_improvement(history: list[float], window: int) -> float | None:
    """(L_{k-window} - L_k) / L_{k-window} over the validation mel L1 history, or None when there
    are not yet window + 1 values."""
    if len(history) <= window or history[-window - 1] <= 0:
        return None
    return (history[-window - 1] - history[-1]) / history[-window - 1]


@dataclass
class PhaseChange:
    to: str
    reason: str


def next_phase(phase: str, step: int, metrics: dict[str, float], mel_l1_history: list[float],
               schedule: ScheduleConfig) -> PhaseChange | None:
    """The transition a validation at `step` with `metrics` calls for, or None. Forward moves
    need the phase's minimum step and thresholds; losing the alignment moves back."""
    diagonality = metrics.get("diagonality", 0.0)
    if phase in ("quality_optimization", "fine_tuning"):
        if diagonality < schedule.alignment_lost_diagonality:
            return PhaseChange("alignment_learning", f"alignment lost: diagonality "
                               f"{diagonality:.3f} < {schedule.alignment_lost_diagonality}")
    if phase in ("pre_alignment", "alignment_learning"):
        monotonicity = metrics.get("monotonicity", 0.0)
        if (step >= schedule.quality_min_steps and diagonality >= schedule.quality_diagonality
                and monotonicity >= schedule.quality_monotonicity):
            return PhaseChange("quality_optimization", f"aligned: diagonality {diagonality:.3f}"
                               f", monotonicity {monotonicity:.3f}")
    if phase == "pre_alignment":
        if (step >= schedule.alignment_learning_min_steps
                and diagonality >= schedule.alignment_learning_diagonality):
            return PhaseChange("alignment_learning", f"diagonality {diagonality:.3f} >= "
                               f"{schedule.alignment_learning_diagonality}")
    if phase == "quality_optimization" and step >= schedule.fine_tuning_min_steps:
        improvement = relative_improvement(mel_l1_history, schedule.fine_tuning_window)
        if improvement is not None and improvement < schedule.fine_tuning_improvement:
            return PhaseChange("fine_tuning", f"validation mel L1 improved {improvement:.1%} "
                               f"over {schedule.fine_tuning_window} validations")
    return None


@dataclass
class Controls:
    """The training knobs that change during a run (phases, the controller) and the
    controller's memory, saved in every checkpoint so a resumed run continues with them."""

    guided_weight: float  # w_0 of the guided attention loss before the phase decay
    gate_pos_weight: float
    lr_scale: float = 1.0  # the auto-fix controller's LR multiplier
    phase: str = PHASES[0]
    phase_start: int = 0
    mel_l1_history: list[float] = field(default_factory=list)  # one value per validation
    actions: dict[str, int] = field(default_factory=dict)  # auto-fix rule -> times acted
    last_action: dict[str, int] = field(default_factory=dict)  # auto-fix rule -> step
    streaks: dict[str, int] = field(default_factory=dict)  # consecutive observations per rule
    aligned_once: bool = False  # the alignment has formed at some validation (alerts "lost")
    plateau_since: int = 0  # validations seen at the plateau rule's last action (its window)

    @classmethod
    def initial(cls, config: Config) -> "Controls":
        return cls(config.loss.guided_attention_weight, config.loss.gate_pos_weight)


@dataclass
class StepSchedule:
    """The values of one training step, logged every step."""

    lr_scale: float
    guided_weight: float
    guided_sigma: float
    teacher_forcing: float
    gate_pos_weight: float


def step_schedule(step: int, controls: Controls, config: Config) -> StepSchedule:
    """All schedule values at `step`: phase LR multiplier x auto-fix LR multiplier, the guided
    weight and sigma, the teacher forcing ratio and the gate's positive weight."""
    schedule = config.schedule
    phase = controls.phase if schedule.phases else "alignment_learning"  # off: full weight
    return StepSchedule(
        lr_scale=phase_lr_scale(phase, schedule) * controls.lr_scale,
        guided_weight=guided_attention_weight(step, phase, controls.phase_start,
                                              controls.guided_weight, schedule),
        guided_sigma=guided_attention_sigma(step, schedule, config.loss.guided_attention_sigma),
        teacher_forcing=teacher_forcing_ratio(step, schedule),
        gate_pos_weight=controls.gate_pos_weight,
    )
