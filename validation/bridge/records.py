"""Named fields of the per-step records (torch-free): no magic column indices elsewhere.

A run's record has one row per step k = 1..K (the state after the k-th update) with the
columns :data:`RUN_COLUMNS`, then ``q_i^T (theta_k - theta*)`` and ``q_i^T v_k`` for the m
projected Hessian eigenvectors (the velocity of Kunin et al. 2021, arXiv:2107.09133, eq. 2 is
``v = -buf``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RUN_COLUMNS", "RunRecord", "as_numpy"]

#: ``loss``: training loss L_B(theta_{k-1}) of the batch used; ``delta2``: ||theta_k -
#: theta_{k-1}||^2; ``Delta2``: ||theta_k - theta*||^2; ``theta_g``: (theta_{k-1} - theta*)^T
#: g_{k-1}, the gradient the step applied (minibatch gradient plus weight_decay theta), the left
#: side of Yaida's fluctuation-dissipation relation with c = theta*.
RUN_COLUMNS = ("loss", "delta2", "Delta2", "theta_g")


def as_numpy(x):
    """A tensor (via its ``.numpy()``, no torch import) or array-like as a numpy array."""
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


@dataclass(frozen=True)
class RunRecord:
    """The columns of a run's record as named arrays (K steps, m projected eigenvectors)."""

    loss: np.ndarray
    delta2: np.ndarray
    Delta2: np.ndarray
    theta_g: np.ndarray
    position: np.ndarray  # (K, m): q_i^T (theta_k - theta*)
    velocity: np.ndarray  # (K, m): q_i^T v_k

    @classmethod
    def from_array(cls, record) -> "RunRecord":
        rec = as_numpy(record)
        n = len(RUN_COLUMNS)
        m = (rec.shape[1] - n) // 2
        cols = {name: rec[:, j] for j, name in enumerate(RUN_COLUMNS)}
        return cls(**cols, position=rec[:, n : n + m], velocity=rec[:, n + m :])

    @property
    def steps(self) -> int:
        return len(self.delta2)
