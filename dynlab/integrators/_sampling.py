"""How the minibatch rows of a linear regression are drawn: three sampling modes.

Each path draws its rows from its own xoshiro256** stream (:mod:`dynlab.integrators._rng`), so
a path's batches depend on the seed and the path's index only. With ``N`` rows and batch size
``S``:

* ``"reshuffle"`` (random reshuffling, PyTorch's ``DataLoader(shuffle=True, drop_last=True)``):
  a uniform permutation per epoch, cut into ``N // S`` consecutive batches; the last
  ``N mod S`` rows of an epoch are skipped. The default.
* ``"with_replacement"``: ``S`` i.i.d. uniform rows each step (a row may repeat in a batch).
* ``"without_replacement"``: ``S`` distinct rows each step, a uniform ``S``-subset drawn afresh
  (independent across steps); by a partial Fisher-Yates shuffle of a work permutation.

The two independent modes give the batch-mean noise covariances ``Sigma / S`` and
``(N - S) / (S (N - 1)) Sigma`` (the finite-population factor, Cochran 1977, "Sampling
Techniques", Thm. 2.2); reshuffling correlates the batches of an epoch.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_positive_int, as_seed_sequence
from ..errors import HyperparameterError
from ._cache import njit
from ._rng import HOT, below, seed_states, shuffle

__all__ = ["SAMPLING", "sampling_code", "initial_epoch", "draw_rows", "sample_rows"]

#: The sampling modes; a mode's index is the code the kernels branch on.
SAMPLING = ("reshuffle", "with_replacement", "without_replacement")
_RESHUFFLE, _WITH_REPLACEMENT, _WITHOUT_REPLACEMENT = 0, 1, 2


def sampling_code(sampling) -> int:
    """The kernels' code of a sampling mode; raises if it is not one of :data:`SAMPLING`."""
    if sampling not in SAMPLING:
        raise HyperparameterError(f"sampling must be one of {SAMPLING}; got {sampling!r}")
    return SAMPLING.index(sampling)


def initial_epoch(N: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-path work permutations ``(M, N)`` (the identity) and epoch positions ``(M,)`` set to
    an exhausted epoch, so that a reshuffling path shuffles at its first draw."""
    return np.repeat(np.arange(N, dtype=np.int64)[None, :], M, axis=0), np.full(M, N, np.int64)


@njit(**HOT)
def draw_rows(state, mode, perm, pos, i, batch):
    """Fill ``batch`` (S,) with path i's next minibatch rows, drawn by ``mode`` from ``state``.

    ``perm`` (N,) is the path's work permutation and ``pos[i]`` its position in the epoch
    (reshuffling only). Reshuffling takes the next ``S`` entries of ``perm``, first shuffling it
    when fewer than ``S`` are left; without replacement swaps a uniform pick of the ``N - r``
    entries from position r on into position r, for ``r < S`` (a uniform ordered ``S``-subset
    whatever ``perm`` held before).
    """
    S = batch.shape[0]
    N = perm.shape[0]
    if mode == _WITH_REPLACEMENT:
        for r in range(S):
            batch[r] = below(state, N)
    elif mode == _WITHOUT_REPLACEMENT:
        for r in range(S):
            j = r + below(state, N - r)
            row = perm[j]
            perm[j] = perm[r]
            perm[r] = row
            batch[r] = row
    else:
        if pos[i] + S > N:
            shuffle(state, perm)
            pos[i] = 0
        for r in range(S):
            batch[r] = perm[pos[i] + r]
        pos[i] += S


@njit(cache=True)
def _sample(states, mode, perm, pos, out):
    for i in range(out.shape[1]):
        for k in range(out.shape[0]):
            draw_rows(states[i], mode, perm[i], pos, i, out[k, i])


def sample_rows(N: int, batch_size: int, *, n_steps: int, n_paths: int, sampling, seed):
    """The minibatch rows ``(n_steps, n_paths, batch_size)`` that the zoo's kernels draw.

    The same numbers as a :func:`dynlab.integrators.run` on a linear regression with ``N`` rows,
    this ``seed`` and ``sampling``, as long as the run draws no Gaussian noise besides the rows
    (no ``extra_noise_cov``).

    Examples
    --------
    >>> rows = sample_rows(6, 2, n_steps=3, n_paths=4, sampling="reshuffle", seed=0)
    >>> bool(all(len(set(rows[:, i].ravel())) == 6 for i in range(4)))  # one epoch: all rows
    True
    """
    N = as_positive_int(N, "N")
    S = as_positive_int(batch_size, "batch_size")
    if S > N:
        raise HyperparameterError(f"batch_size must be <= N = {N}; got {S}")
    mode = sampling_code(sampling)
    ss = as_seed_sequence(seed)
    M = as_positive_int(n_paths, "n_paths")
    out = np.zeros((as_positive_int(n_steps, "n_steps"), M, S), dtype=np.int64)
    perm, pos = initial_epoch(N, M)
    _sample(seed_states(ss, M), mode, perm, pos, out)
    return out
