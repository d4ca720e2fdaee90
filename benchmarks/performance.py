"""The performance goals of dynlab, each measured as a ratio or a time within one run, PASS/FAIL.

    python benchmarks/performance.py            # every goal that has an implementation
    python benchmarks/performance.py --block    # also: generic Lyapunov solver by block size
    python benchmarks/performance.py --main-job # also: goal 6, the main job timed (twice)

Every ratio is taken between timings interleaved in this one run (best of ``--repeat``), so a
slow spell of a shared machine hits both sides; the load average is printed with them. Goals
measured by another script name it (goals 1 and 4: ``benchmarks/broadcast.py``; goal 7:
``benchmarks/minibatch.py``); goal 6 runs the main job with ``--main-job``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmark the checkout this script lives in

from dynlab import _lyapunov, config  # noqa: E402

IMPORTS = "import dynlab.ou, dynlab.sgd, dynlab.integrators, dynlab.observables"


def best(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls."""
    t_best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best


def report(goal: str, value: str, ok: bool | None) -> None:
    verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
    print(f"{goal:<62} {value:<34} {verdict}", flush=True)


def lyapunov_problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)) / np.sqrt(n) + 1.5 * np.eye(n)
    G = rng.standard_normal((n, n))
    return A, G @ G.T


def lyapunov_ratios(sizes, repeat: int) -> dict[int, float]:
    """scipy time / dynlab time of the generic solver, per n (interleaved)."""
    out = {}
    for n in sizes:
        A, C = lyapunov_problem(n)
        reps = max(1, int(20_000 // n**2))
        t_sp = t_dl = np.inf
        for _ in range(repeat):
            t_sp = min(
                t_sp,
                best(
                    lambda: [scipy.linalg.solve_continuous_lyapunov(A, C) for _ in range(reps)], 1
                ),
            )
            t_dl = min(t_dl, best(lambda: [_lyapunov.solve_lyapunov(A, C) for _ in range(reps)], 1))
        out[n] = t_sp / t_dl
    return out


def block_scan(sizes, blocks, repeat: int) -> None:
    """scipy / dynlab ratio of the generic Lyapunov solver for each LYAPUNOV_BLOCK."""
    shipped = config.LYAPUNOV_BLOCK
    print(f"{'n':>6} " + " ".join(f"{'block ' + str(b):>10}" for b in blocks))
    for n in sizes:
        ratios = []
        for b in blocks:
            config.LYAPUNOV_BLOCK = b
            ratios.append(lyapunov_ratios([n], repeat)[n])
        print(f"{n:>6} " + " ".join(f"{r:>9.2f}x" for r in ratios), flush=True)
    config.LYAPUNOV_BLOCK = shipped


def import_seconds(repeat: int) -> tuple[float, float]:
    """Best fresh-interpreter times of ``import numpy`` and of numpy plus dynlab's main modules."""
    t_np = t_all = np.inf
    for _ in range(repeat):
        for code, which in (("import numpy", "np"), ("import numpy; " + IMPORTS, "all")):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
            dt = time.perf_counter() - t
            if which == "np":
                t_np = min(t_np, dt)
            else:
                t_all = min(t_all, dt)
    return t_np, t_all


def zoo_goals(repeat: int) -> tuple[dict[int, float], float, float]:
    """Goal 2 on the workloads of benchmarks/integrators.py: ({d: zoo / numpy rate} for d = 8, 32
    at 10^4 paths, zoo's share of the square-GEMM roofline at d = 1000, and its share of the
    GEMM of the zoo's own shape there).

    At d = 1000 the case is the integrator benchmark's (M, d, K) = (64, 1000, 2000), as in the
    table of docs/integrators.md. A batched heavy-ball step with generated noise is one GEMM
    ``[theta | z] @ [H; F]``, (64 x 2000) @ (2000 x 1000), 4 d^2 flops per path, plus the draws
    and the update; that product's own rate bounds the zoo's.
    """
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from integrators import gemm_gflops, numpy_vectorised, problem, zoo

    from dynlab.integrators import run

    run("heavy_ball", problem(4), n_paths=2, n_steps=2, seed=0, lr=0.01, momentum=0.9)
    small = {}
    for d in (8, 32):
        p = problem(d)
        r_zoo = r_np = 0.0
        for _ in range(repeat):
            r_zoo = max(r_zoo, zoo(p, 10_000, 200))
            r_np = max(r_np, numpy_vectorised(p, 10_000, 100))
        small[d] = r_zoo / r_np
    d, M = 1000, 64
    p = problem(d)
    zoo(p, 2, 2)  # compiles the batched kernel and factors the noise covariance (cached)
    r_zoo = roof = case = 0.0
    for _ in range(repeat):
        roof = max(roof, *gemm_gflops(2000, 2000, 2000, 1))
        case = max(case, *gemm_gflops(M, d, 2 * d, 10))
        r_zoo = max(r_zoo, zoo(p, M, 2000))
    gflops = 4.0 * d**2 * r_zoo / 1e9
    return small, gflops / roof, gflops / case


def main_job_seconds() -> float:
    """Wall time of the README's main job from a warm numba cache (a first run warms it)."""
    import tempfile

    times = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "validation.linear_regression", "--out", out],
                check=True,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - t)
    return times[-1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (default 3)")
    parser.add_argument("--block", action="store_true", help="scan LYAPUNOV_BLOCK")
    parser.add_argument("--skip-zoo", action="store_true", help="skip goal 2 (the slowest)")
    parser.add_argument(
        "--main-job", action="store_true", help="goal 6: run the main job twice (2 min)"
    )
    args = parser.parse_args(argv)
    print(
        f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} "
        "(on a shared machine timings are noisy; ratios are interleaved within this run)"
    )
    report("1 1000 learning rates at d = 1000 after one eigh", "broadcast.py", None)
    if args.skip_zoo:
        report("2 zoo >= 3x numpy (d <= 32, 1e4 paths); >= 85% roofline", "skipped", None)
    else:
        small, roof, case = zoo_goals(args.repeat)
        report(
            "2a zoo / vectorised numpy, d = 8 and 32, 1e4 paths, >= 3",
            ", ".join(f"d {d}: {r:.2f}x" for d, r in small.items()),
            min(small.values()) >= 3,
        )
        report(
            "2b zoo share of the GEMM roofline at d = 1000 (M = 64), >= 85%",
            f"{100 * roof:.0f}% ({100 * case:.0f}% of its own GEMM shape)",
            roof >= 0.85,
        )
    sizes = (8, 32, 128, 512)
    ratios = lyapunov_ratios(sizes, args.repeat)
    text = ", ".join(f"{n}: {r:.2f}x" for n, r in ratios.items())
    report(
        "3 generic Lyapunov, scipy time / dynlab time >= 1 at every n",
        text,
        min(ratios.values()) >= 1,
    )
    report("4 decompose at d = 3000 <= 30 s, 1 GB; commutes() <= 1 s", "broadcast.py", None)
    t_np, t_all = import_seconds(max(args.repeat, 5))
    report(
        "5 import ou, sgd, integrators, observables adds <= 0.5 s",
        f"+{t_all - t_np:.2f} s (numpy {t_np:.2f} s)",
        t_all - t_np <= 0.5,
    )
    if args.main_job:
        t = main_job_seconds()
        report("6 main job <= 60 s from a warm numba cache", f"{t:.1f} s", t <= 60)
    else:
        report("6 main job <= 60 s from a warm numba cache", "--main-job", None)
    report("7 minibatch second moments d = 200, N = 2000 <= 1 s", "minibatch.py", None)
    if args.block:
        block_scan((32, 96, 256, 512), (16, 32, 64, 128), args.repeat)


if __name__ == "__main__":
    main()
