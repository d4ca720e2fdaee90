"""The mean-square stability map of minibatch heavy-ball SGD, and reshuffling measured exactly.

``python -m validation.minibatch_stability [--out DIR] [--quick]``

1. The largest mean-square stable lr over the batch size S for momentum 0, 0.9, 0.99 on the
   embedded regression data (``dynlab.models.synthetic_regression``, N = 1024, d = 6), sampling
   with and without replacement, drawn against the two plateaus (small S:
   ``lr = 2 (1 - beta) / noise_sharpness``; large S: ``lr = 2 (1 + beta) / (rho_1 + lambda)``)
   their harmonic combination and the predicted crossover batch size. Writes
   ``minibatch_stability.png``.
2. Reshuffling on a data set small enough for the exact subset recursion (N = 12, d = 2): the
   epoch-start slow-mode second moment and mean, and the full-gradient FDR ratio, exact against
   the additive idealisation, the hybrid model and independent batches. Prints the table.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dynlab.hyper import HeavyBall  # noqa: E402
from dynlab.minibatch import (  # noqa: E402
    FiniteData,
    MinibatchSGD,
    Reshuffle,
    crossover_batch_size,
    noise_sharpness,
    stability_map,
)
from dynlab.models import synthetic_regression  # noqa: E402

MOMENTA = (0.0, 0.9, 0.99)
WEIGHT_DECAY = 1e-3


def stability_figure(out: pathlib.Path, quick: bool) -> None:
    prob = synthetic_regression(n_samples=1024, d=6, decay=1.0, seed=0)
    data = FiniteData(prob.X, prob.Y, WEIGHT_DECAY)
    sizes = np.unique(np.geomspace(1, 1024, 6 if quick else 11).round().astype(int))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True)
    for ax, beta in zip(axes, MOMENTA):
        top = HeavyBall(1.0, beta, data.weight_decay).max_stable_lr(data.rho[0])
        for sampling, style in (("with_replacement", "o-"), ("without_replacement", "s--")):
            edge = stability_map(data, momentum=beta, batch_sizes=sizes, sampling=sampling)[0]
            print(
                f"momentum {beta}, {sampling}: edge / [2(1+beta)/(rho_1+lambda)] = "
                + ", ".join(f"S={S}: {e:.3g}" for S, e in zip(sizes, edge / top))
            )
            ax.loglog(sizes, edge / top, style, ms=4, label=sampling.replace("_", " "))
        S = np.geomspace(1, 1024, 200)
        small = 2 * (1 - beta) / (noise_sharpness(data, batch_size=1) / S) / top
        ax.loglog(S, np.minimum(small, 1.0), "k:", lw=1, label="the two plateaus")
        ax.loglog(S, 1 / (1 / small + 1), color="0.5", lw=1, label="harmonic combination")
        Sx = crossover_batch_size(data, momentum=beta)
        ax.axvline(Sx, color="0.6", lw=0.8)
        ax.text(Sx, 2e-3, f"$S_\\times$={Sx:.3g} ", fontsize=8, color="0.3", ha="right")
        ax.set_title(f"momentum = {beta}")
        ax.set_xlabel("batch size S")
        ax.set_ylim(1e-3, 1.5)
    axes[0].set_ylabel(r"max stable lr / $[2(1+\beta)/(\rho_1+\lambda)]$")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"Mean-square stability edge, linear regression N = {data.N}, d = {data.d}, "
        f"weight_decay = {WEIGHT_DECAY}"
    )
    fig.tight_layout()
    fig.savefig(out / "minibatch_stability.png", dpi=120)
    plt.close(fig)


def reshuffle_table() -> None:
    rng = np.random.default_rng(0)
    N, d = 12, 2
    X = rng.standard_normal((N, d)) * np.array([1.0, 0.3])
    data = FiniteData(X, X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(N), 0.01)
    print("\nReshuffling, N = 12, d = 2: epoch-start slow-mode E (q_d^T delta)^2, exact vs models")
    print(
        f"{'S':>3} {'beta':>5} {'exact':>10} {'additive':>9} {'hybrid':>9} {'indep.':>9} "
        f"{'mean^2/exact':>12} {'FDR ratio exact':>15} {'additive':>9} {'time (s)':>8}"
    )
    q = data.q[:, -1]
    for S in (1, 2, 3, 4):
        for beta in (0.0, 0.9):
            hp = HeavyBall(0.3 / data.k[0] * (1 - beta) * S, beta, 0.01, batch_size=S)
            t0 = time.perf_counter()
            rs = Reshuffle(data, hp)
            m0, P0 = rs.exact_epoch_start()
            fdr = rs.fdr(exact=True)
            t = time.perf_counter() - t0
            slow = q @ P0[:d, :d] @ q
            add = q @ rs.additive_epoch_start()[:d, :d] @ q
            hyb = q @ rs.hybrid_epoch_start()[:d, :d] @ q
            ind = q @ MinibatchSGD(data, hp, "without_replacement").stationary()[:d, :d] @ q
            print(
                f"{S:>3} {beta:>5} {slow:>10.4g} {add / slow - 1:>+9.1%} {hyb / slow - 1:>+9.1%} "
                f"{ind / slow - 1:>+9.1%} "
                f"{(q @ m0[:d]) ** 2 / slow:>12.3f} {fdr.ratio:>15.4f} "
                f"{rs.fdr().ratio:>9.4f} {t:>8.2f}"
            )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("docs/figures"))
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stability_figure(args.out, args.quick)
    print(f"wrote {args.out / 'minibatch_stability.png'}")
    reshuffle_table()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
