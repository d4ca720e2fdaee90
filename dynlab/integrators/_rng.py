"""Per-path random streams used inside the integrator kernels.

Each trajectory owns a xoshiro256** generator (Blackman & Vigna 2018, "Scrambled linear
pseudorandom number generators", reference code ``xoshiro256starstar.c``), seeded from a numpy
``SeedSequence``: path ``i`` draws from its own stream whatever the number of paths or threads,
so an ensemble is reproducible given the seed and path ``i`` of a large run equals path ``i`` of
a small one.

* :func:`uniform` -- ``[0, 1)`` with 53 random bits;
* :func:`fill_normals` -- standard normals by Marsaglia's polar method (exact, no tables);
* :func:`below` -- an unbiased integer in ``[0, n)`` (rejection of the partial top range);
* :func:`shuffle` -- a uniform random permutation in place (Fisher-Yates).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

__all__ = ["seed_states", "next_u64", "uniform", "fill_normals", "below", "shuffle"]

_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53


def seed_states(seed: np.random.SeedSequence, n_paths: int) -> np.ndarray:
    """Initial xoshiro256** states, shape ``(n_paths, 4)`` uint64: row ``i`` seeds path ``i``.

    The rows are words of ``seed.generate_state``, which is prefix-consistent, so row ``i``
    depends on ``seed`` and ``i`` only.
    """
    states = seed.generate_state(4 * n_paths, np.uint64).reshape(n_paths, 4)
    # xoshiro's one forbidden state (all zero; probability 2**-256 per row) is mapped away.
    states[np.all(states == 0, axis=1), 0] = 1
    return states


@njit(uint64(uint64, uint64), inline="always", cache=True)
def _rotl(x, k):
    return (x << k) | (x >> (uint64(64) - k))


@njit(inline="always", cache=True)
def next_u64(s):
    """Advance the state ``s`` (a (4,) uint64 view) and return the next 64-bit output."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    result = _rotl(s1 * uint64(5), uint64(7)) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, uint64(45))
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return result


@njit(inline="always", cache=True)
def uniform(s):
    """A float in ``[0, 1)``: the top 53 bits of the next output times ``2**-53``."""
    return float(next_u64(s) >> uint64(11)) * _TWO_M53


@njit(cache=True)
def fill_normals(s, out):
    """Fill the 1-D array ``out`` with independent standard normals (Marsaglia's polar method).

    Normals come in pairs; for odd ``len(out)`` the second of the last pair is discarded, so
    every call consumes a whole number of pairs.
    """
    n = out.shape[0]
    j = 0
    while j < n:
        r = 0.0
        u = 0.0
        w = 0.0
        while r >= 1.0 or r == 0.0:
            u = 2.0 * uniform(s) - 1.0
            w = 2.0 * uniform(s) - 1.0
            r = u * u + w * w
        f = np.sqrt(-2.0 * np.log(r) / r)
        out[j] = u * f
        if j + 1 < n:
            out[j + 1] = w * f
        j += 2


@njit(cache=True)
def below(s, n):
    """An integer uniform on ``[0, n)`` for ``1 <= n < 2**63``, without modulo bias.

    Outputs below ``2**64 mod n`` are rejected, so the accepted range is a multiple of ``n``.
    """
    m = uint64(n)
    threshold = (uint64(0) - m) % m
    x = next_u64(s)
    while x < threshold:
        x = next_u64(s)
    return np.int64(x % m)


@njit(cache=True)
def shuffle(s, a):
    """Permute the 1-D array ``a`` uniformly at random in place (Fisher-Yates, Durstenfeld)."""
    for i in range(a.shape[0] - 1, 0, -1):
        j = below(s, i + 1)
        tmp = a[i]
        a[i] = a[j]
        a[j] = tmp
