"""Search progress: a live line on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from tinynas import study as studies

if TYPE_CHECKING:
    import optuna


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _accuracies(attrs: dict[str, Any]) -> str:
    """A trained trial's int8 test accuracy, and its validation accuracy where recorded."""
    text = f"{float(attrs.get('accuracy_int8', 0.0)):.4f}"
    if "accuracy_int8_val" in attrs:
        text += f" (validation {float(attrs['accuracy_int8_val']):.4f})"
    return text


class Progress:
    """An Optuna callback printing trials done of N, feasible so far, best accuracy within
    limits (the trial best by the study's accuracy objective: its test accuracy, and its
    validation accuracy where the study selects on that), elapsed and remaining time."""

    def __init__(self, total: int, stream: TextIO | None = None, live: bool | None = None):
        self.total = total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.started = time.monotonic()
        self.done_at_start: int | None = None

    def line(self, study: optuna.Study, last: optuna.trial.FrozenTrial | None = None) -> str:
        """The progress text for ``study``'s current state."""
        from optuna.trial import TrialState

        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
        feasible = [t for t in complete if studies.is_feasible(t)]
        selected = studies.objective_attr("accuracy", study.user_attrs)
        trained = [t for t in feasible if selected in t.user_attrs]
        best = max(trained, key=lambda t: t.user_attrs[selected], default=None)
        if self.done_at_start is None:
            self.done_at_start = len(complete) - (1 if last is not None else 0)
        elapsed = time.monotonic() - self.started
        new = len(complete) - self.done_at_start
        left = self.total - len(complete)
        eta = f"{_clock(elapsed / new * left)} left" if new > 0 and left > 0 else ""
        best_text = _accuracies(best.user_attrs) if best is not None else "-"
        parts = [f"trials {len(complete)}/{self.total}", f"feasible {len(feasible)}",
                 f"best accuracy within limits {best_text}", f"elapsed {_clock(elapsed)}"]
        if eta:
            parts.append(eta)
        if failed:
            parts.append(f"failed {failed}")
        text = " | ".join(parts)
        if last is not None and not self.live:
            text = f"trial {last.number} {self._outcome(last)} | " + text
        return text

    @staticmethod
    def _outcome(trial: optuna.trial.FrozenTrial) -> str:
        attrs = trial.user_attrs
        if trial.state.name == "FAIL":
            return f"failed: {attrs.get('fail_reason', 'see log')}"
        if trial.state.name == "PRUNED":
            return "skipped"
        if attrs.get("trained") is False:
            return (f"over the board limits (RAM {attrs.get('estimated_ram_bytes')} B, "
                    f"flash {attrs.get('estimated_flash_bytes')} B), not trained")
        reused = f", reused from trial {attrs['reused_from']}" if "reused_from" in attrs else ""
        return (f"int8 accuracy {_accuracies(attrs)}, "
                f"RAM {attrs.get('estimated_ram_bytes')} B{reused}")

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        text = self.line(study, trial)
        if self.live:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the live line."""
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
