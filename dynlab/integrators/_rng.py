"""Per-path random streams used inside the integrator kernels.

Each trajectory owns a xoshiro256** generator (Blackman & Vigna 2018, "Scrambled linear
pseudorandom number generators", reference code ``xoshiro256starstar.c``), seeded from a numpy
``SeedSequence``: path ``i`` draws from its own stream whatever the number of paths or threads,
so an ensemble is reproducible given the seed and path ``i`` of a large run equals path ``i`` of
a small one.

* :func:`fill_normals` -- standard normals by the ziggurat method (Marsaglia &
  Tsang 2000, 128 layers; the layer and the sign come from the low 8 bits and the magnitude
  from the top 53 bits of one output, so they are independent);
* :func:`below` -- an unbiased integer in ``[0, n)`` (rejection of the partial top range);
* :func:`shuffle` -- a uniform random permutation in place (Fisher-Yates).
"""

from __future__ import annotations

import numpy as np
from numba import uint64

from ._cache import njit

__all__ = ["seed_states", "next_u64", "fill_normals", "below", "shuffle"]

_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53

#: Ziggurat of the normal density f(x) = exp(-x^2 / 2) with 128 layers of area _ZIG_V each
#: (Marsaglia & Tsang 2000, "The ziggurat method for generating random variables", J. Stat.
#: Softw. 5(8)): r is the start of the tail, and r f(r) + int_r^inf f = v.
_ZIG_R = 3.442619855899
_ZIG_V = 9.91256303526217e-3


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray]:
    """Layer edges x_0..x_128 (x_0 = v / f(r) the base strip's virtual width, x_1 = r,
    x_{i+1} = f^-1(f(x_i) + v / x_i), x_128 = 0: the top layer reaches the mode) and f there."""
    x = np.zeros(129)
    x[0] = _ZIG_V / np.exp(-0.5 * _ZIG_R**2)
    x[1] = _ZIG_R
    for i in range(1, 127):
        x[i + 1] = np.sqrt(-2.0 * np.log(np.exp(-0.5 * x[i] ** 2) + _ZIG_V / x[i]))
    return x, np.exp(-0.5 * x * x)


_ZX, _ZF = _ziggurat_tables()

#: Options of the functions used inside the kernels' step loops (see dynlab.integrators._ops.HOT).
HOT = {"cache": True, "_nrt": False}


#: numpy's SeedSequence output hash (``numpy/random/bit_generator.pyx``, ``generate_state``).
_INIT_B, _MULT_B, _XSHIFT = 0x8B51F9DD, 0x58F38DED, 16
_MASK32 = 0xFFFFFFFF


@njit(cache=True)
def _generate_state(pool, n_words):
    """``SeedSequence.generate_state(n_words, np.uint32)`` from its entropy pool, bit for bit:
    word i hashes pool word ``i mod 4`` with the i-th power of the multiplier, in 32-bit
    arithmetic (numba widens uint32 products, hence the masks)."""
    out = np.empty(n_words, dtype=np.uint32)
    h = uint64(_INIT_B)
    for i in range(n_words):
        x = uint64(pool[i % pool.shape[0]]) ^ h
        h = (h * uint64(_MULT_B)) & uint64(_MASK32)
        x = (x * h) & uint64(_MASK32)
        out[i] = x ^ (x >> uint64(_XSHIFT))
    return out


def seed_states(seed: np.random.SeedSequence, n_paths: int) -> np.ndarray:
    """Initial xoshiro256** states, shape ``(n_paths, 4)`` uint64: row ``i`` seeds path ``i``.

    The rows are words of ``seed.generate_state``, which is prefix-consistent, so row ``i``
    depends on ``seed`` and ``i`` only. They are computed by a compiled copy of its hash
    (numpy's own loop is several times slower, a share of a short run; tested equal to it bit
    for bit).
    """
    words = _generate_state(np.asarray(seed.pool, dtype=np.uint32), 8 * n_paths)
    states = words.astype("<u4").view("<u8").astype(np.uint64).reshape(n_paths, 4)
    # xoshiro's one forbidden state (all zero; probability 2**-256 per row) is mapped away.
    states[np.all(states == 0, axis=1), 0] = 1
    return states


@njit(inline="always", cache=True)
def _rotl(x, k):
    return (x << k) | (x >> (uint64(64) - k))


@njit(inline="always", cache=True)
def _xoshiro(s0, s1, s2, s3):
    """xoshiro256** on a state held in four scalars: ``(output, s0, s1, s2, s3)``."""
    result = _rotl(s1 * uint64(5), uint64(7)) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, uint64(45))
    return result, s0, s1, s2, s3


@njit(inline="always", cache=True)
def next_u64(s):
    """Advance the state ``s`` (a (4,) uint64 view) and return the next 64-bit output."""
    result, s[0], s[1], s[2], s[3] = _xoshiro(s[0], s[1], s[2], s[3])
    return result


@njit(cache=True)
def _ziggurat_rare(i, x, s0, s1, s2, s3):
    """The 1.2% of draws outside the layers' inner rectangles: ``(x, accepted, state...)``.
    The base layer samples the tail beyond r (Marsaglia 1964); the others accept x when a
    uniform point of the layer's wedge falls under the density."""
    if i == 0:
        a = 0.0
        b = 0.0
        while 2.0 * b <= a * a:
            u1, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            u2, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            a = -np.log1p(-float(u1 >> uint64(11)) * _TWO_M53) / _ZIG_R
            b = -np.log1p(-float(u2 >> uint64(11)) * _TWO_M53)
        return _ZIG_R + a, True, s0, s1, s2, s3
    u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
    y = _ZF[i] + float(u >> uint64(11)) * _TWO_M53 * (_ZF[i + 1] - _ZF[i])
    return x, y < np.exp(-0.5 * x * x), s0, s1, s2, s3


@njit(**HOT)
def fill_normals(s, out):
    """Fill the 1-D array ``out`` with independent standard normals (ziggurat).

    For layer i and magnitude ``x = u x_i`` the draw is accepted at once when ``x < x_{i+1}``
    (98.8% of draws; the rest go to :func:`_ziggurat_rare` or start again). The state is held
    in registers for the whole fill.
    """
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for j in range(out.shape[0]):
        while True:
            bits, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            i = np.int64(bits & uint64(127))
            x = float(bits >> uint64(11)) * _TWO_M53 * _ZX[i]
            if x < _ZX[i + 1]:
                break
            x, accepted, s0, s1, s2, s3 = _ziggurat_rare(i, x, s0, s1, s2, s3)
            if accepted:
                break
        out[j] = -x if bits & uint64(128) else x
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3


@njit(**HOT)
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


@njit(**HOT)
def shuffle(s, a):
    """Permute the 1-D array ``a`` uniformly at random in place (Fisher-Yates, Durstenfeld)."""
    for i in range(a.shape[0] - 1, 0, -1):
        j = below(s, i + 1)
        tmp = a[i]
        a[i] = a[j]
        a[j] = tmp
