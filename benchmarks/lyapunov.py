"""Lyapunov solve for the SGD drift: dynlab's eigenbasis path vs scipy's generic solver.

Usage::

    python benchmarks/lyapunov.py              # d = 100, 300, 1000 (n = 2d)
    python benchmarks/lyapunov.py --sizes 50 100 --repeat 3

For each d, one random SPD Hessian (spectrum spread over 4 decades) and two noise models:
``Sigma = sigma2 H`` (commuting, seed 003 Assumption 5) and a general PSD Sigma. Timed:

* ``eigenbasis``: ``SGDPhaseSpace(...).lyapunov()`` from scratch (validation, eigh of H and the
  pairwise closed form included);
* ``bartels-stewart``: dynlab's generic complex-Schur solver, ``OUProcess(A, D).lyapunov()``;
* ``scipy``: ``scipy.linalg.solve_continuous_lyapunov(A, 2 D)``.

Printed: best-of-``repeat`` wall times, the speed-up of the eigenbasis path over scipy, and each
solution's relative residual ``||A B + B A^T - 2 D||_F / (2 ||A||_F ||B||_F + 2 ||D||_F)``.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import scipy
import scipy.linalg

from dynlab.ou_process import OUProcess
from dynlab.sgd import SGDPhaseSpace


def residual(A, B, D) -> float:
    """Relative residual of A B + B A^T = 2 D."""
    R = A @ B + B @ A.T - 2.0 * D
    return float(
        np.linalg.norm(R) / (2.0 * np.linalg.norm(A) * np.linalg.norm(B) + 2.0 * np.linalg.norm(D))
    )


def best_time(fn, repeat: int):
    """(best wall time, last result) over ``repeat`` calls."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def problem(d: int, seed: int = 0):
    """A random SPD H (eigenvalues log-spaced in [1e-3, 10]) and a general PSD Sigma."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    H = (Q * np.logspace(1, -3, d)) @ Q.T
    G = rng.standard_normal((d, d)) / np.sqrt(d)
    return 0.5 * (H + H.T), G @ G.T


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--repeat", type=int, default=1, help="timings are best of this many runs")
    parser.add_argument(
        "--skip-bartels-stewart", action="store_true", help="skip dynlab's generic solver"
    )
    args = parser.parse_args(argv)

    print(
        f"# {platform.processor() or platform.machine()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}"
    )
    hyper = dict(lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=32)
    header = (
        f"{'d':>5} {'noise':>8} {'eigenbasis s':>13} {'B-S s':>9} {'scipy s':>9} "
        f"{'speed-up':>9} {'res eig':>9} {'res B-S':>9} {'res scipy':>9}"
    )
    print(header)
    for d in args.sizes:
        H, Sigma = problem(d)
        for name, noise in (("sigma2*H", ("hessian", 0.5)), ("general", Sigma)):
            t_eig, B = best_time(
                lambda: SGDPhaseSpace(H, **hyper, noise_cov=noise).lyapunov(), args.repeat
            )
            ou = SGDPhaseSpace(H, **hyper, noise_cov=noise).ou
            A, D = ou.A, ou.D
            if args.skip_bartels_stewart:
                t_bs, r_bs = np.nan, np.nan
            else:
                t_bs, B_bs = best_time(lambda: OUProcess(A, D).lyapunov(), args.repeat)
                r_bs = residual(A, B_bs, D)
            t_sp, B_sp = best_time(
                lambda: scipy.linalg.solve_continuous_lyapunov(A, 2.0 * D), args.repeat
            )
            print(
                f"{d:>5} {name:>8} {t_eig:>13.4f} {t_bs:>9.3f} {t_sp:>9.3f} {t_sp / t_eig:>8.1f}x "
                f"{residual(A, B, D):>9.2e} {r_bs:>9.2e} {residual(A, B_sp, D):>9.2e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
