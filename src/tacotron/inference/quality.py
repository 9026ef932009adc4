"""Inference quality control: is a synthesized utterance good enough to keep, and if not, why?

Every check reads one number defined in one place: the alignment scores of
`tacotron.model.alignment_metrics`, whether the gate stopped the decoder, and the speaking rate
(`frames_per_symbol`) against the rate of the training data.
"""

from __future__ import annotations

from tacotron.config import InferenceConfig
from tacotron.model.alignment_metrics import AlignmentScores


def frames_per_symbol(frames: int, n_symbols: int) -> float:
    """Speaking rate of one utterance: mel frames / input symbols (end-of-sentence included)."""
    return frames / max(1, n_symbols)


def speaking_rate_bounds(training_rate: dict[str, float], tolerance: float) -> tuple[float, float] | None:
    """Accepted frames per symbol: [p01 / tolerance, p99 * tolerance], where p01 and p99 are the
    1st and 99th percentiles over the training utterances (saved in the checkpoint). None when the
    checkpoint has no such figures (written before they were recorded): the rate is not checked."""
    if not training_rate:
        return None
    return training_rate["p01"] / tolerance, training_rate["p99"] * tolerance


def quality_failures(scores: AlignmentScores, stopped_by_gate: bool, rate: float,
                     rate_bounds: tuple[float, float] | None, config: InferenceConfig) -> list[str]:
    """Reasons to reject an utterance; empty when it passes. Thresholds come from the config."""
    failures = []
    if not stopped_by_gate:
        failures.append("the gate never fired: stopped at the length cap")
    if scores.coverage < config.min_coverage:
        failures.append(f"coverage {scores.coverage:.2f} < {config.min_coverage} (skipped symbols)")
    if scores.focus_rate < config.min_focus_rate:
        failures.append(f"focus rate {scores.focus_rate:.2f} < {config.min_focus_rate} (blurred attention)")
    if scores.monotonicity < config.min_monotonicity:
        failures.append(f"monotonicity {scores.monotonicity:.2f} < {config.min_monotonicity} "
                        "(attention jumped back or ahead)")
    if rate_bounds is not None and not rate_bounds[0] <= rate <= rate_bounds[1]:
        failures.append(f"{rate:.1f} frames per symbol, outside the training range "
                        f"{rate_bounds[0]:.1f}-{rate_bounds[1]:.1f} (too fast: skipped; too slow: babble)")
    return failures


def attempt_rank(failures: list[str], scores: AlignmentScores) -> tuple:
    """Order of preference between attempts that all failed: fewer failed checks, then better
    coverage, then sharper attention."""
    return (len(failures), -scores.coverage, -scores.focus_rate)
