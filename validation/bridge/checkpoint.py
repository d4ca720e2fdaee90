"""Resumable state: atomic checkpoints in ``OUT/state/`` and a step/time budget.

Every phase of a run saves its partial state (parameters, momentum buffer, step counter,
observables recorded so far) and, when done, its result, each as one file written through a
temporary file and a rename (:func:`validation.report.atomic_write_bytes`): a run killed at any
moment leaves either the previous file or the new one, never a torn one. Batches are pure
functions of the step index (:class:`.data.BatchStream`), so continuing from a checkpoint
recomputes exactly what the killed run would have computed.

Beside every state file ``NAME.pt`` lies ``NAME.pt.sha256``, the SHA-256 checksums it may
have, verified on every load: a corrupted file (a flipped bit, a torn copy) stops the run with
:class:`StateError` naming the file and how to recover (delete it and rerun with ``--resume``:
the phase is recomputed). The pair is written so that a kill between its two writes leaves a
pair that loads: first the checksum file, listing the new file's checksum and those listed
now, then the state file, then the checksum file with the new checksum only. A state file never
exists without its checksum file, and its checksum is always listed.

The run's configuration (``state/config.json``) holds a run id and fingerprints of the data set
and of ``--checkpoint``; ``--resume`` refuses different ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
from pathlib import Path

import torch

from dynlab.errors import DynlabError
from validation.report import atomic_write_bytes, atomic_write_text

__all__ = ["Budget", "Interrupted", "StateDir", "StateError", "save", "load", "file_digest"]


class StateError(DynlabError):
    """A state file is corrupt or belongs to another run; the message names it and the fix."""


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_digest(path) -> str:
    """SHA-256 of a file's bytes (hex), read in 16 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def _accepted_digests(digest: Path) -> list[str]:
    return digest.read_text().split()


def save(path, obj) -> None:
    """``torch.save`` to ``path`` atomically, with its checksum beside it.

    Three atomic writes, in an order that a kill at any point leaves loadable (module docstring):
    checksum file with the new and the current checksum, state file, checksum file with the new
    checksum only.
    """
    path = Path(path)
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    new = hashlib.sha256(data).hexdigest()
    digest = _digest_path(path)
    # the checksums listed now, which save computed from memory; never a hash of the file on
    # disk, which would list a file that has gone bad since (and re-read it on every save)
    current = _accepted_digests(digest) if path.exists() and digest.exists() else []
    atomic_write_text(digest, "\n".join([new, *current]) + "\n")
    atomic_write_bytes(path, data)
    atomic_write_text(digest, new + "\n")


def load(path, map_location="cpu", *, verify: bool = True):
    """``torch.load`` (``weights_only=True``) after checking the checksum written by :func:`save`.

    ``verify=False`` loads a file from elsewhere (a user's ``--checkpoint``) that has none.

    Raises
    ------
    StateError
        When the checksum is missing or differs, naming the file.
    """
    path = Path(path)
    if verify:
        digest = _digest_path(path)
        fix = f"delete {path} (and {digest.name}) and rerun with --resume to recompute it"
        if not digest.exists():
            raise StateError(f"{path}: no checksum file {digest.name} beside it; {fix}")
        if file_digest(path) not in _accepted_digests(digest):
            raise StateError(f"{path} is corrupt (its SHA-256 differs from {digest.name}); {fix}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise StateError(
            f"{path} cannot be read ({exc}); delete it and rerun with --resume"
        ) from exc


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
        self.run_id = None
        if cfg_path.exists():
            if not resume:
                raise FileExistsError(
                    f"{self.dir} holds the state of an earlier run: pass --resume to continue it, "
                    "or choose another --out"
                )
            try:
                old = json.loads(cfg_path.read_text())
            except ValueError as exc:
                raise StateError(
                    f"{cfg_path} is corrupt ({exc}): this run cannot be resumed; use another --out"
                ) from exc
            self.run_id = old.pop("run_id", None)
            diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            if diff:
                raise StateError(
                    "cannot resume: settings differ from the saved run: "
                    + ", ".join(f"{k}: saved {old.get(k)!r}, now {config.get(k)!r}" for k in diff)
                )
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)
            saved = dict(config, run_id=self.run_id)
            atomic_write_text(cfg_path, json.dumps(saved, indent=2, sort_keys=True) + "\n")

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
        """Delete checkpoint ``name`` if present (a partial state superseded by the final one).

        The state file goes first: a kill in between leaves a checksum file alone, which is
        harmless (:meth:`has` looks at the state file).
        """
        self.path(name).unlink(missing_ok=True)
        _digest_path(self.path(name)).unlink(missing_ok=True)
