"""Sweeps of a model over a broadcast :class:`~dynlab.hyper.HeavyBall`: one scalar model per
optimizer, results stacked with the sweep's axes first (numpy-style)."""

from __future__ import annotations

import functools

import numpy as np

from ..hyper import HeavyBall

__all__ = ["optimizers", "over_grid"]


def optimizers(hyper: HeavyBall) -> np.ndarray:
    """The scalar optimizers of a sweep: an object array of shape ``hyper.shape``."""
    shape = hyper.shape
    fields = {
        f: np.broadcast_to(np.asarray(getattr(hyper, f)), shape)
        for f in ("lr", "momentum", "weight_decay", "batch_size")
    }
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = hyper.replace(
            lr=float(fields["lr"][idx]),
            momentum=float(fields["momentum"][idx]),
            weight_decay=float(fields["weight_decay"][idx]),
            batch_size=int(fields["batch_size"][idx]),
        )
    return out


def _stack(results: list, shape: tuple):
    first = results[0]
    if isinstance(first, tuple):
        return tuple(_stack([r[i] for r in results], shape) for i in range(len(first)))
    a = np.asarray(results)
    return a.reshape(shape + a.shape[1:])


def over_grid(method):
    """Decorate a model method: on a sweep (``self._grid``, an object array of scalar models)
    call it on each model and stack the results with the sweep's axes first; a tuple result is
    stacked element by element."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self._grid is None:
            return method(self, *args, **kwargs)
        results = [method(m, *args, **kwargs) for m in self._grid.flat]
        return _stack(results, self._grid.shape)

    return wrapper
