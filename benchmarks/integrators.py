"""Throughput of the integrator zoo: heavy-ball SGD ensembles, zoo vs numpy vs a per-path loop.

    python benchmarks/integrators.py              # the three cases of issue 3, full length
    python benchmarks/integrators.py --quick      # 1/20 of the steps (a smoke check)
    python benchmarks/integrators.py --crossover  # per-path loops vs batched BLAS, by d
    python benchmarks/integrators.py --repeat 5   # best of 5 timings (default 3)

Workload: ``v <- momentum v - (H theta - b + xi)``, ``theta <- theta + lr v`` with
``xi = Sigma^{1/2} z`` (a full, non-diagonal Sigma), M independent paths, K steps, recording
only the last step. Three implementations of the same recursion:

* zoo -- ``dynlab.integrators.run("heavy_ball", ...)`` (per-path streams, numba kernels);
* numpy -- the ensemble vectorised over paths, one (M, d) GEMM per product, numpy's default
  generator for the normals, in-place updates;
* loop -- one path at a time in Python with numpy vector operations (timed on a few paths and
  steps: its rate per trajectory-step does not depend on M or K).

Throughput is trajectory-steps per second (M K / time), the best of ``--repeat`` interleaved timings
(a busy machine only ever slows a run down). The roofline is the best GEMM rate
measured on this machine (numpy's and numba's BLAS, square n = 2000); the zoo's rate in
GFLOP/s counts the two d x d products per path-step (4 d^2 flops). Timings on a shared machine
are noisy: the script prints the load average next to them. There, multi-threaded BLAS stalls
(its threads wait for cores other jobs hold); ``OPENBLAS_NUM_THREADS=1 python
benchmarks/integrators.py`` measures single-threaded BLAS for the zoo, numpy and the roofline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np

# benchmark the checkout this script lives in, not an installed dynlab
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynlab import config  # noqa: E402
from dynlab.integrators import run  # noqa: E402
from dynlab.models import QuadraticProblem  # noqa: E402

CASES = [(1000, 10, 10_000), (256, 100, 10_000), (64, 1000, 2000)]
LR, MOMENTUM = 0.01, 0.9


def problem(d: int, seed: int = 0) -> QuadraticProblem:
    """H with eigenvalues in [0.1, 1], a random b and a full noise covariance."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    H = (Q * np.linspace(0.1, 1.0, d)) @ Q.T
    A = rng.standard_normal((d, d))
    return QuadraticProblem(H, rng.standard_normal(d), noise_cov=A @ A.T / d)


def zoo(p: QuadraticProblem, M: int, K: int, layout: str = "auto") -> float:
    t = time.perf_counter()
    run(
        "heavy_ball",
        p,
        n_paths=M,
        n_steps=K,
        seed=0,
        lr=LR,
        momentum=MOMENTUM,
        record=K,
        layout=layout,
    )
    return M * K / (time.perf_counter() - t)


def numpy_vectorised(p: QuadraticProblem, M: int, K: int) -> float:
    rng = np.random.default_rng(0)
    d = p.d
    H, b, Lt = p.H, p.b, np.ascontiguousarray(p.noise_factor.T)
    theta, v = np.zeros((M, d)), np.zeros((M, d))
    G, N, XI = np.empty((M, d)), np.empty((M, d)), np.empty((M, d))
    t = time.perf_counter()
    for _ in range(K):
        rng.standard_normal(out=N)
        np.matmul(theta, H, out=G)
        np.matmul(N, Lt, out=XI)
        G -= b
        G += XI
        v *= MOMENTUM
        v -= G
        theta += LR * v
    return M * K / (time.perf_counter() - t)


def python_loop(p: QuadraticProblem, M: int, K: int) -> float:
    rng = np.random.default_rng(0)
    H, b, L = p.H, p.b, p.noise_factor
    t = time.perf_counter()
    for _ in range(M):
        theta, v = np.zeros(p.d), np.zeros(p.d)
        for _ in range(K):
            g = H @ theta - b + L @ rng.standard_normal(p.d)
            v = MOMENTUM * v - g
            theta = theta + LR * v
    return M * K / (time.perf_counter() - t)


@numba.njit
def _numba_gemm(A, B, C, reps):
    for _ in range(reps):
        np.dot(A, B, C)


def gemm_gflops(m: int, n: int, k: int, reps: int) -> tuple[float, float]:
    """Best-of-3 GFLOP/s of an (m x k) @ (k x n) product: numpy, and numba calling BLAS.

    The two are timed one after the other, not interleaved: numba calls scipy's BLAS, numpy its
    own, and each library's threads spin for a while after a product; alternating short products
    of the two libraries puts four busy threads on two cores and slows both.
    """
    rng = np.random.default_rng(0)
    A, B, C = rng.random((m, k)), rng.random((k, n)), np.empty((m, n))
    flops = 2.0 * m * n * k * reps

    def rate(product) -> float:
        product()  # warm: the library's threads are up before the timing
        best = np.inf
        for _ in range(3):
            t = time.perf_counter()
            product()
            best = min(best, time.perf_counter() - t)
        return flops / best / 1e9

    def numpy_product():
        for _ in range(reps):
            np.dot(A, B, out=C)

    return rate(numpy_product), rate(lambda: _numba_gemm(A, B, C, reps))


def crossover(quick: bool) -> None:
    """Per-path loops against one GEMM per step, across d (sets INTEGRATOR_BLAS_MIN_DIM)."""
    M, K = 256, 100 if quick else 1000
    print(f"\ncrossover: zoo heavy_ball, M = {M}, K = {K} x 32 / d steps; trajectory-steps/s")
    print(f"{'d':>6} {'per-path loops':>16} {'batched BLAS':>14}")
    for d in (16, 32, 64, 128, 256, 512, 1000):
        p = problem(d)
        K_d = max(10, K * 32 // d)
        rates = [zoo(p, M, K_d, layout) for layout in ("paths", "batched")]
        print(f"{d:>6} {rates[0]:>16.3g} {rates[1]:>14.3g}")
    print(f"(auto picks batched from d = {config.INTEGRATOR_BLAS_MIN_DIM})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/20 of the steps")
    parser.add_argument(
        "--crossover", action="store_true", help="also compare the two layouts across d"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="best of this many timings of each implementation, interleaved (default 3)",
    )
    args = parser.parse_args(argv)
    print(
        f"numba threads {numba.get_num_threads()}, OPENBLAS_NUM_THREADS "
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, cpu count {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f} (shared machine: timings are noisy)"
    )
    gf_np, gf_nb = gemm_gflops(2000, 2000, 2000, 2)
    roofline = max(gf_np, gf_nb)
    print(
        f"GEMM 2000^3: numpy {gf_np:.1f} GFLOP/s, numba-BLAS {gf_nb:.1f} GFLOP/s -> "
        f"roofline {roofline:.1f}"
    )
    warm = problem(4)
    run("heavy_ball", warm, n_paths=2, n_steps=2, seed=0, lr=LR, momentum=MOMENTUM)  # compile
    header = (
        f"{'M':>5} {'d':>5} {'K':>6} | {'zoo':>9} {'numpy':>9} {'loop':>9} | "
        f"{'zoo/numpy':>9} {'zoo/loop':>9} | {'zoo GF/s':>8} {'%roof':>6} {'case GEMM':>9}"
    )
    print(header)
    print("-" * len(header))
    for M, d, K in CASES:
        K_run = max(K // 20, 10) if args.quick else K
        p = problem(d)
        r_zoo = r_np = r_loop = 0.0
        for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits all three
            r_zoo = max(r_zoo, zoo(p, M, K_run))
            r_np = max(r_np, numpy_vectorised(p, M, max(K_run // 4, 10)))
            r_loop = max(r_loop, python_loop(p, 2, min(K_run, 2000 if not args.quick else 200)))
        gflops = 4.0 * d * d * r_zoo / 1e9
        case_gemm = max(gemm_gflops(M, d, d, max(1, int(2e8 // (2 * M * d * d)))))
        print(
            f"{M:>5} {d:>5} {K_run:>6} | {r_zoo:>9.3g} {r_np:>9.3g} {r_loop:>9.3g} | "
            f"{r_zoo / r_np:>9.2f} {r_zoo / r_loop:>9.1f} | {gflops:>8.2f} "
            f"{100 * gflops / roofline:>5.0f}% "
            f"{case_gemm:>9.1f}"
        )
    print(
        f"rates in trajectory-steps/s, best of {args.repeat}; numpy timed on K/4 steps, "
        "loop on 2 paths x "
        "min(K, 2000) steps;"
    )
    print(
        "zoo GF/s = 4 d^2 x rate; %roof against the 2000^3 GEMM; "
        "case GEMM = (M x d) @ (d x d) GFLOP/s"
    )
    if args.crossover:
        crossover(args.quick)


if __name__ == "__main__":
    main()
