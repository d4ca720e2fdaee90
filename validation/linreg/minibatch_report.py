"""The minibatch rows of the main job's report, their table and the batch-size figure.

Rows (:meth:`validation.report.Report.predict`):

* ``<quantity> [minibatch <case>]`` -- independent batches: the exact prediction of
  :class:`dynlab.minibatch.MinibatchSGD` against the simulated optimizer, gated (``exact``);
  the note gives the additive-Gaussian model's value and its error relative to the exact one;
* reshuffled cases of the same data set: the additive model against the simulation, a measured
  gap (not gated);
* ``<quantity> [minibatch reshuffle, ..., N=8]`` -- exact reshuffling on a tiny data set
  (:mod:`.minibatch_reshuffle`): :class:`dynlab.minibatch.Reshuffle` against the simulation,
  gated, with the FDR's predicted full-gradient violation;
* ``FDR ... [minibatch <case>]`` -- Yaida's relation, lhs - rhs against 0: with the applied
  (minibatch) gradient in every mode and with the full gradient for independent batches gated;
  with the full gradient under reshuffling a measured violation.
"""

from __future__ import annotations

import numpy as np

from validation.report import new_figure

from . import minibatch, minibatch_reshuffle
from .minibatch import TRANSIENT_STEPS

__all__ = [
    "MB_LABELS",
    "RS_LABELS",
    "add_minibatch",
    "write_minibatch",
    "write_reshuffle",
    "slow_variance_figure",
]

#: Report label of each minibatch observable.
MB_LABELS = {
    "slow_var": "slow-mode variance E<theta - theta*, q_d>^2",
    "excess_loss": "excess loss E L_lambda(theta) - L_lambda(theta*)",
    "speed": "speed E||theta_{k+1} - theta_k||^2",
    **{f"transient_{k}": f"E||theta_{k} - theta*||^2 from theta_0 = 0" for k in TRANSIENT_STEPS},
}

_INTRO = (
    "Heavy-ball SGD with weight decay (PyTorch convention) on a finite data set of {N} rows and "
    "{d} features, simulated by the integrator zoo with each sampling mode "
    "(`run(..., sampling=...)`): S i.i.d. rows per step (with replacement), S distinct rows per "
    "step drawn afresh (without replacement), or a permutation per epoch cut into N // S "
    "batches (reshuffle). lr = {scale:g} (1 - beta) / rho_1; weight decay 0 or rho_d. "
    "Stationary ensembles start at theta* and burn in for {burn:g} relaxation times of the "
    "slowest second-moment mode (whole epochs); transients start at theta = 0, v = 0.\n\n"
    "For independent batches the prediction is the EXACT second moment of "
    "`dynlab.minibatch.MinibatchSGD` (multiplicative noise included), gated at |z| <= 4. The "
    "note beside each row gives the additive-Gaussian model (`SGDPhaseSpace.from_data`: "
    "Sigma estimated at theta*, scaled by (N - S) / (N - 1) without replacement) and its "
    "error relative to the exact value: what the old model misses. Reshuffled runs on this data "
    "set have no exact prediction; their rows compare the additive model and are not gated "
    "(exact reshuffling rows on a data set of {N_rs} rows follow below).\n\n"
    "Yaida's fluctuation-dissipation relation E[(theta - theta*)^T g] = (1 + beta) / (2 lr) "
    "E||theta_{{k+1}} - theta_k||^2 holds at stationarity with g the gradient the optimizer "
    "applied (read off the velocities: g_k = beta v_k - v_{{k+1}}), in every mode (over whole "
    "epochs under reshuffling); with the full gradient H_lambda (theta - theta*) it holds for "
    "independent batches and fails under reshuffling."
)


def _pct(x: float, ref: float) -> str:
    return f"{(x - ref) / abs(ref):+.1%}"


def write_minibatch(report, results: list[dict], *, N: int, d: int, scale: float, burn: float):
    """Record the rows of :func:`.minibatch.run_cases`, a compact table and results.json values."""
    report.section(
        "Minibatch SGD on finite data",
        _INTRO.format(N=N, d=d, scale=scale, burn=burn, N_rs=minibatch_reshuffle.N_SAMPLES),
    )
    rows, values = [], []
    for r in results:
        case = r["case"]
        independent = "exact" in r
        for key, label in MB_LABELS.items():
            m, add = r["measured"][key], r["additive"][key]
            if independent:
                ex = r["exact"][key]
                p = report.predict(
                    f"{label} [minibatch {case.label}]",
                    ex,
                    m.value,
                    m.stderr,
                    exact=True,
                    note=f"additive model {add:.4g} ({_pct(add, ex)} vs exact)",
                )
            else:
                p = report.predict(
                    f"{label} [minibatch {case.label}]",
                    add,
                    m.value,
                    m.stderr,
                    exact=False,
                    note="reshuffling: additive model (no exact prediction)",
                )
            rows.append(
                [
                    case.label,
                    key,
                    r["exact"][key] if independent else "-",
                    f"{m.value:.4g} ± {m.stderr:.2g}",
                    f"{p.z:+.2f}" if independent else "-",
                    add,
                    _pct(add, m.value),
                ]
            )
        for grad, fdr in r["fdr"].items():
            gated = independent or grad == "minibatch"
            report.predict(
                f"FDR lhs - rhs, {grad} gradient [minibatch {case.label}]",
                0.0,
                fdr.diff.mean,
                fdr.diff.se,
                exact=gated,
                note=f"lhs / rhs = {fdr.ratio:.4f}"
                + ("" if gated else "; reshuffling: the batch noise depends on the epoch's past"),
            )
        values.append(
            {
                "case": vars(case),
                "lr": float(r["hyper"].lr),
                "weight_decay": float(r["hyper"].weight_decay),
                "burn_in": r["burn_in"],
                "steps": r["steps"],
                "measured": {k: [e.value, e.stderr] for k, e in r["measured"].items()},
                "exact": r.get("exact"),
                "additive": r["additive"],
                "fdr": {
                    g: {"ratio": f.ratio, "diff": f.diff.mean, "se": f.diff.se, "z": f.z}
                    for g, f in r["fdr"].items()
                },
            }
        )
    report.table(
        ["case", "quantity", "exact", "simulated", "z", "additive model", "additive vs sim."],
        rows,
    )
    report.table(
        ["case", "FDR lhs / rhs (applied gradient)", "z", "FDR lhs / rhs (full gradient)", "z"],
        [
            [
                r["case"].label,
                r["fdr"]["minibatch"].ratio,
                f"{r['fdr']['minibatch'].z:+.2f}",
                r["fdr"]["full"].ratio,
                f"{r['fdr']['full'].z:+.2f}",
            ]
            for r in results
        ],
    )
    report.value("minibatch", values)


#: Report label of each exact-reshuffling observable.
RS_LABELS = {
    "start_slow_second": "epoch-start E<theta - theta*, q_d>^2",
    "start_mean_1": "epoch-start mean E<theta - theta*, q_1>",
    "excess_loss": "epoch-averaged excess loss",
    "speed": "epoch-averaged speed",
}

_RS_INTRO = (
    "Random reshuffling, exactly: on a data set of {N} rows and {d} features the moments of "
    "`dynlab.minibatch.Reshuffle` (a recursion over the subsets of the data, multiplicative "
    'noise included) are compared with the zoo\'s `sampling="reshuffle"` at epoch starts and '
    "averaged over the positions of an epoch, gated at |z| <= 4, with the additive "
    "idealisation of the same class beside them (per-sample Hessians replaced by H; its "
    "epoch-start mean is 0). The FDR row with the full gradient is gated against the predicted "
    "violation lhs - rhs."
)


def write_reshuffle(report, results: list[dict]) -> None:
    """Record the rows of :func:`.minibatch_reshuffle.run_reshuffle_cases` and a table."""
    report.text(_RS_INTRO.format(N=minibatch_reshuffle.N_SAMPLES, d=minibatch_reshuffle.DIM))
    rows, values = [], []
    for r in results:
        tag = f"minibatch {r['case'].label}, N={minibatch_reshuffle.N_SAMPLES}"
        ex, add = r["exact"], r["additive"]
        for key, label in RS_LABELS.items():
            m = r["measured"][key]
            p = report.predict(
                f"{label} [{tag}]",
                ex[key],
                m.value,
                m.stderr,
                exact=True,
                note=f"additive idealisation {add[key]:.4g} ({_pct(add[key], ex[key])} vs exact)",
            )
            rows.append(
                [
                    tag,
                    key,
                    ex[key],
                    f"{m.value:.4g} ± {m.stderr:.2g}",
                    f"{p.z:+.2f}",
                    add[key],
                    _pct(add[key], ex[key]),
                ]
            )
        full, applied = r["fdr"]["full"], r["fdr"]["minibatch"]
        p = report.predict(
            f"FDR lhs - rhs, full gradient [{tag}]",
            ex["fdr_diff"],
            full.diff.mean,
            full.diff.se,
            exact=True,
            note=f"lhs / rhs = {full.ratio:.4f}, exact {ex['fdr_ratio']:.4f}, additive "
            f"{add['fdr_ratio']:.4f}",
        )
        rows.append(
            [
                tag,
                "FDR lhs - rhs (full gradient)",
                ex["fdr_diff"],
                f"{full.diff.mean:.4g} ± {full.diff.se:.2g}",
                f"{p.z:+.2f}",
                add["fdr_diff"],
                _pct(add["fdr_diff"], ex["fdr_diff"]),
            ]
        )
        report.predict(
            f"FDR lhs - rhs, minibatch gradient [{tag}]",
            0.0,
            applied.diff.mean,
            applied.diff.se,
            exact=True,
            note=f"lhs / rhs = {applied.ratio:.4f}",
        )
        values.append(
            {
                "case": vars(r["case"]),
                "lr": float(r["hyper"].lr),
                "burn_in": r["burn_in"],
                "steps": r["steps"],
                "measured": {k: [e.value, e.stderr] for k, e in r["measured"].items()},
                "exact": ex,
                "additive": add,
                "fdr_measured": {
                    g: {"ratio": f.ratio, "diff": f.diff.mean, "se": f.diff.se}
                    for g, f in r["fdr"].items()
                },
            }
        )
    report.table(
        ["case", "quantity", "exact", "simulated", "z", "additive idealisation", "vs exact"], rows
    )
    report.value("minibatch_reshuffle", values)


SAMPLING_STYLE = {
    "with_replacement": ("tab:blue", "o", "with replacement"),
    "without_replacement": ("tab:orange", "s", "without replacement"),
    "reshuffle": ("tab:green", "^", "reshuffle"),
}


def slow_variance_figure(sweep: dict, momentum: float):
    """Slow-mode variance against the batch size per sampling mode: simulation (markers, 2 s.e.),
    exact (solid), additive-Gaussian model (dashed); right: everything over the additive model."""
    fig, (ax, rel) = new_figure(1, 2, figsize=(11.0, 4.4))
    for sampling, points in sweep.items():
        color, marker, name = SAMPLING_STYLE[sampling]
        S = np.array([p["batch_size"] for p in points])
        add = np.array([p["additive"] for p in points])
        meas = np.array([p["measured"].value for p in points])
        se = np.array([p["measured"].stderr for p in points])
        for a, scale in ((ax, 1.0), (rel, add)):
            a.errorbar(
                S,
                meas / scale,
                yerr=2 * se / scale,
                fmt=marker,
                color=color,
                ms=5,
                capsize=2,
                label=f"{name}: simulated",
            )
            if points[0]["exact"] is not None:
                ex = np.array([p["exact"] for p in points])
                a.plot(S, ex / scale, "-", color=color, label=f"{name}: exact")
        ax.plot(S, add, "--", color=color, alpha=0.7, label=f"{name}: additive model")
    rel.axhline(1.0, color="gray", ls="--", lw=1, label="additive model")
    for a in (ax, rel):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        a.set_xticks(S, [str(s) for s in S])
        a.set_xlabel("batch size S")
    ax.set_ylabel("stationary E<theta - theta*, q_d>^2")
    rel.set_ylabel("over the additive-Gaussian model")
    ax.set_title(f"Slowest mode, momentum {momentum:g}, no weight decay")
    rel.set_title("What the additive model misses")
    ax.legend(fontsize=7)
    rel.legend(fontsize=7)
    return fig


#: Momentum of the batch-size figure.
SWEEP_MOMENTUM = 0.9


def add_minibatch(report, profile: str, seed: int) -> None:
    """Run the minibatch cases and the batch-size sweep of ``profile``; add rows and figure."""
    results = minibatch.run_cases(profile, seed)
    write_minibatch(
        report,
        results,
        N=minibatch.N_SAMPLES,
        d=minibatch.DIM,
        scale=minibatch.LR_SCALE,
        burn=minibatch.BURN_RELAXATIONS,
    )
    write_reshuffle(
        report,
        minibatch_reshuffle.run_reshuffle_cases(profile, minibatch.SIZES[profile], seed),
    )
    sweep = minibatch.batch_sweep(profile, seed, SWEEP_MOMENTUM)
    report.figure(
        slow_variance_figure(sweep, SWEEP_MOMENTUM),
        "minibatch_slow_variance.png",
        "Stationary variance along the slowest Hessian eigenvector against the batch size, per "
        "sampling mode: simulated (error bars 2 s.e.), exact for independent batches (solid), "
        "additive-Gaussian model (dashed; reshuffling uses the without-replacement marginal)",
    )
