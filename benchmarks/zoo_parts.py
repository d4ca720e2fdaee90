"""The parts of one heavy-ball path-step of the zoo at small d, each timed alone on one thread.

    python benchmarks/zoo_parts.py              # d = 8 and 32
    python benchmarks/zoo_parts.py --d 8 16 32

For each d: the step's normals (``fill_normals``), its gradient plus noise as the kernel forms it
(``[H | F] [theta; z] - b``, four rows at a time: ``_ops.noisy_gradient_path``) and, for
comparison, one row at a time (a single chain of multiply-adds per row, written here), the
momentum update; then the whole zoo per path-step on one thread and on all threads (10^4 paths,
200 steps, as goal 2a of ``benchmarks/performance.py``), vectorised numpy per path-step, and
the ceiling ``threads x numpy / (sum of the parts)`` that the goal's ratio cannot exceed without
faster parts. Each time is the best of ``--repeat``; the VM's speed varies between runs, so
compare numbers of one run only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmark the checkout this script lives in
sys.path.insert(0, str(ROOT / "benchmarks"))

from integrators import LR, MOMENTUM, numpy_vectorised, problem, zoo  # noqa: E402

from dynlab.integrators._ops import noisy_gradient_path  # noqa: E402
from dynlab.integrators._optimizers import _update  # noqa: E402
from dynlab.integrators._rng import fill_normals, seed_states  # noqa: E402

FASTMATH = {"reassoc", "contract"}
REPS = 200_000


@numba.njit(fastmath=FASTMATH)
def _row_at_a_time(H, b, F, z, theta, g):
    for j in range(g.shape[0]):
        acc = -b[j]
        for l in range(theta.shape[0]):
            acc += H[j, l] * theta[l] + F[j, l] * z[l]
        g[j] = acc


@numba.njit
def _normals(state, z, n):
    for _ in range(n):
        fill_normals(state, z)


@numba.njit
def _four_rows(HF, b, u, g, n):
    for _ in range(n):
        noisy_gradient_path(HF, b, u, g)


@numba.njit
def _one_row(H, b, F, z, theta, g, n):
    for _ in range(n):
        _row_at_a_time(H, b, F, z, theta, g)


@numba.njit
def _updates(theta, v, g, hp, n):
    for k in range(n):
        _update(0, theta, v, theta[:0], g, hp, k)


def _ns(fn, args, repeat: int) -> float:
    """Best time per call of ``fn(*args, n)`` in nanoseconds (compiled first)."""
    fn(*args, 10)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args, REPS)
        best = min(best, time.perf_counter() - t)
    return best / REPS * 1e9


def parts(d: int, repeat: int) -> None:
    p = problem(d)
    H, F, b = p.H, p.noise_factor, p.b
    rng = np.random.default_rng(0)
    theta, z = 1e-3 * rng.standard_normal(d), rng.standard_normal(d)
    u, g, v = np.concatenate([theta, z]), np.empty(d), np.zeros(d)
    HF = np.ascontiguousarray(np.hstack([H, F]))
    state = seed_states(np.random.SeedSequence(0), 1)[0]
    hp = (LR, MOMENTUM, 0.0, 0.0, 0.0, 0.0)
    t_z = _ns(_normals, (state, np.empty(d)), repeat)
    t_g = _ns(_four_rows, (HF, b, u, g), repeat)
    t_g1 = _ns(_one_row, (H, b, F, z, theta, g), repeat)
    t_u = _ns(_updates, (theta.copy(), v, g, hp), repeat)
    threads = numba.get_num_threads()
    zoo(p, 10, 2)  # compile
    rate_all = max(zoo(p, 10_000, 200) for _ in range(repeat))
    numba.set_num_threads(1)
    try:
        rate_one = max(zoo(p, 10_000, 200) for _ in range(repeat))
    finally:
        numba.set_num_threads(threads)
    rate_np = max(numpy_vectorised(p, 10_000, 50) for _ in range(repeat))
    total = t_z + t_g + t_u
    print(
        f"d = {d}: normals {t_z:.1f} ns, gradient + noise {t_g:.1f} ns (row at a time "
        f"{t_g1:.1f} ns: {t_g1 / t_g:.2f}x), update {t_u:.1f} ns; sum {total:.1f} ns"
    )
    print(
        f"  zoo per path-step: {1e9 / rate_one:.1f} ns on 1 thread, {1e9 / rate_all:.1f} ns "
        f"on {threads} ({rate_all / rate_one:.2f}x); numpy {1e9 / rate_np:.1f} ns"
    )
    print(
        f"  zoo / numpy {rate_all / rate_np:.2f}x; ceiling {threads} x numpy / sum of the parts "
        f"= {threads * 1e9 / rate_np / total:.2f}x"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, nargs="+", default=[8, 32], help="dimensions")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many (default 5)")
    args = parser.parse_args(argv)
    for d in args.d:
        parts(d, args.repeat)


if __name__ == "__main__":
    main()
