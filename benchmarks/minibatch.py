"""Stationary moments of minibatch SGD on finite data: d = 200, N = 2000, goal <= 1 s.

Usage::

    python benchmarks/minibatch.py                 # the goal size, a few optimizers
    python benchmarks/minibatch.py --N 4000 --d 300 --repeat 5

Times ``FiniteData(X, y, weight_decay)`` (one ``eigh``) plus ``MinibatchSGD(...).stationary()``
(GMRES on the d^2 unknowns of the position block, O(N d^2) per product, in the eigenbasis of H)
for each optimizer, best of ``repeat`` runs, and prints the GMRES residual of the fixed point
(``||P - map(P)|| / ||P||``, one extra step of the exact recursion) and PASS / FAIL against the
goal. The dense second-moment map has (2d)^4 = 2.6e9 entries at d = 200 and is never formed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dynlab.hyper import HeavyBall
from dynlab.minibatch import FiniteData, MinibatchSGD

GOAL_S = 1.0


def problem(N: int, d: int, seed: int = 0):
    """Gaussian inputs with a power-law spectrum (rho_i ~ 1 / i) and a noisy linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d)) * np.arange(1, d + 1) ** -0.5
    return X, X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(N)


def residual(sgd: MinibatchSGD) -> float:
    """Relative change of the stationary P under one step of the exact recursion."""
    d = sgd.data.d
    P = sgd.stationary()
    q = np.kron(np.eye(2), sgd.data.q)
    Pm = (q.T @ P @ q).reshape(2, d, 2, d).transpose(0, 2, 1, 3)
    nxt = sgd._linear(Pm) + sgd._GG[:, :, None, None] * sgd.c_S * sgd.data.Sigma_a_modal
    return float(np.linalg.norm(nxt - Pm) / np.linalg.norm(Pm))


def gemm_time(X: np.ndarray, repeat: int) -> float:
    """Best time of ``X @ Y`` (N x d times d x d): the unit of the solve's cost."""
    Y = np.eye(X.shape[1])
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        X @ Y
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=2000)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    X, y = problem(args.N, args.d)
    weight_decay = 1e-3
    k1 = FiniteData(X, y, weight_decay).k[0]
    cases = [
        ("with_replacement", 1, 0.9),
        ("with_replacement", 32, 0.0),
        ("without_replacement", 8, 0.99),
    ]
    print(f"N = {args.N}, d = {args.d}, best of {args.repeat} (machine shared with other jobs)")
    worst = 0.0
    for sampling, S, beta in cases:
        hp = HeavyBall(lr=0.02 / k1, momentum=beta, weight_decay=weight_decay, batch_size=S)
        best = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            sgd = MinibatchSGD(FiniteData(X, y, weight_decay), hp, sampling)
            sgd.stationary()
            best = min(best, time.perf_counter() - t0)
        worst = max(worst, best)
        print(
            f"  {sampling:<20} S = {S:<3} momentum = {beta:<5} {best:7.3f} s   "
            f"fixed-point residual {residual(sgd):.1e}"
        )
    gemm = gemm_time(X, args.repeat)
    ok = worst <= GOAL_S
    print(
        f"{'PASS' if ok else 'FAIL'}: slowest {worst:.3f} s (goal <= {GOAL_S} s) = "
        f"{worst / gemm:.0f} x one (N x d) @ (d x d) GEMM ({gemm * 1e3:.1f} ms in this run: "
        "compare that ratio across machines, not the seconds, when the cores are shared)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
