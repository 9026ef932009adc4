"""Speed and time left of a run: the one ETA function, used by the loop's progress bar, the
progress file, the status command and the Telegram card."""

from __future__ import annotations

import collections

RATE_WINDOW = 50  # points (one per step) the speed is measured over


class StepRate:
    """Training speed over the last RATE_WINDOW steps of this session."""

    def __init__(self, window: int = RATE_WINDOW):
        self.points: collections.deque[tuple[int, float]] = collections.deque(maxlen=window)

    def add(self, step: int, train_seconds: float) -> None:
        self.points.append((step, train_seconds))

    def steps_per_second(self) -> float | None:
        """(step_last - step_first) / (seconds_last - seconds_first) over the window, where seconds
        is the trainer's training clock (validation and data loading included); None if unknown."""
        if len(self.points) < 2:
            return None
        (step0, seconds0), (step1, seconds1) = self.points[0], self.points[-1]
        if seconds1 <= seconds0 or step1 <= step0:
            return None
        return (step1 - step0) / (seconds1 - seconds0)


def eta_seconds(step: int, max_steps: int, train_seconds: float, budget_seconds: float,
                steps_per_second: float | None) -> tuple[float | None, int | None]:
    """(seconds left, step the run ends at): eta = (max_steps - step) / rate, capped at
    budget - train_seconds when there is a time budget; end step = step + eta * rate.
    (None, None) while the rate is unknown."""
    if not steps_per_second or steps_per_second <= 0:
        return None, None
    eta = max(0, max_steps - step) / steps_per_second
    if budget_seconds > 0 and budget_seconds - train_seconds < eta:
        eta = max(0.0, budget_seconds - train_seconds)
        return eta, min(max_steps, step + int(eta * steps_per_second))
    return eta, max(step, max_steps)


