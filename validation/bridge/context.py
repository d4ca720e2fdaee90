"""What every phase of ``python -m validation.resnet_bridge`` needs (:class:`Context`), and
the stop of a run whose theta* misses its target (:class:`TargetNotReached`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checkpoint import Budget, Interrupted, StateDir
from .data import DeviceData
from .settings import ATOMIC
from .train import (
    Runtime,
)

__all__ = ["Context", "TargetNotReached"]


class TargetNotReached(Exception):
    """theta* misses ``--target-acc``; its state is saved, so a resume can lower the target."""


@dataclass
class Context:
    """What every phase needs: settings, runtime, data, state folder, budget, logger."""

    args: object
    rt: Runtime
    train: DeviceData
    test: DeviceData
    state: StateDir
    budget: Budget
    log: object
    results: dict = field(default_factory=dict)

    def stop_if_exhausted(self, phase: str) -> None:
        """Raise :class:`Interrupted` before starting ``phase`` when the budget is spent.

        Phases that cannot be checkpointed inside (:data:`ATOMIC`) start under a time limit only
        at the beginning of an invocation, so that each gets the whole ``--time-limit``.
        """
        if self.budget.exhausted:
            raise Interrupted(f"stopped before phase {phase}")
        if phase in ATOMIC and self.budget.deadline is not None and self.budget.steps > 0:
            raise Interrupted(
                f"phase {phase} runs in one piece: it starts at the beginning of the next "
                "invocation"
            )
