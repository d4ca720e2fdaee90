"""Resumable state: atomic checkpoints in ``OUT/state/`` and a step/time budget.

Every phase of a run saves its partial state (parameters, momentum buffer, step counter,
observables recorded so far) and, when done, its result, each as one file written through a
temporary file and a rename (:func:`validation.report.atomic_write_bytes`): a run killed at any
moment leaves either the previous file or the new one, never a torn one. Batches are pure
functions of the step index (:class:`.data.BatchStream`), so continuing from a checkpoint
recomputes exactly what the killed run would have computed.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import torch

from validation.report import atomic_write_bytes, atomic_write_text

__all__ = ["Budget", "Interrupted", "StateDir", "save", "load"]


def save(path, obj) -> None:
    """``torch.save`` to ``path`` atomically."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load(path, map_location="cpu"):
    """``torch.load`` with ``weights_only=True``: tensors, containers and Python scalars only."""
    return torch.load(path, map_location=map_location, weights_only=True)


class Interrupted(Exception):
    """The step or time budget ran out; the state on disk is complete up to the last step."""


class Budget:
    """Stop after ``max_steps`` optimizer steps or ``seconds`` of wall time in this invocation.

    Both are checked on the host between steps (no device synchronization); ``None`` means no limit.
    """

    def __init__(self, max_steps: int | None = None, seconds: float | None = None):
        self.max_steps, self.steps = max_steps, 0
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def tick(self, n: int = 1) -> None:
        """Count ``n`` steps (or step-equivalents: Hessian-vector products, gradient samples)."""
        self.steps += n

    @property
    def exhausted(self) -> bool:
        """True once either limit is reached."""
        if self.max_steps is not None and self.steps >= self.max_steps:
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline


class StateDir:
    """The ``state/`` folder of a run: named checkpoint files plus the run's configuration.

    Parameters
    ----------
    out_dir : path
        The run's output folder.
    config : dict
        Settings that determine the results. A resumed run must have the same ones.
    resume : bool
        Continue from what is on disk; without it, an existing non-empty state is an error.
    """

    def __init__(self, out_dir, config: dict, *, resume: bool):
        self.dir = Path(out_dir) / "state"
        cfg_path = self.dir / "config.json"
        if cfg_path.exists():
            if not resume:
                raise FileExistsError(
                    f"{self.dir} holds the state of an earlier run: pass --resume to continue it, "
                    "or choose another --out"
                )
            old = json.loads(cfg_path.read_text())
            diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            if diff:
                raise ValueError(
                    "cannot resume: settings differ from the saved run: "
                    + ", ".join(f"{k}: saved {old.get(k)!r}, now {config.get(k)!r}" for k in diff)
                )
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cfg_path, json.dumps(config, indent=2, sort_keys=True) + "\n")

    def path(self, name: str) -> Path:
        """File of the checkpoint ``name``."""
        return self.dir / f"{name}.pt"

    def has(self, name: str) -> bool:
        """Whether checkpoint ``name`` exists."""
        return self.path(name).exists()

    def load(self, name: str):
        """Checkpoint ``name`` or None."""
        return load(self.path(name)) if self.has(name) else None

    def save(self, name: str, obj) -> None:
        """Write checkpoint ``name`` atomically."""
        save(self.path(name), obj)

    def drop(self, name: str) -> None:
        """Delete checkpoint ``name`` if present (a partial state superseded by the final one)."""
        self.path(name).unlink(missing_ok=True)
