"""Report section of the speed law (eq. 12): both predictions per sweep run and the
fluctuation-dissipation check; also the stationary-window helpers the run sections share.

Same conventions as :mod:`.sections_run`. No torch import.
"""

from __future__ import annotations

import numpy as np

from dynlab.hyper import HeavyBall
from dynlab.observables import fit_power_law
from dynlab.stationarity import fluctuation_dissipation_series
from dynlab.traces import noise_trace, speed_from_trace, speed_weight, trace_from_speed
from validation.report import new_figure

from . import analysis as an
from .config import EDGE_CLIP, MIN_ESS, WINDOW_START
from .records import RunRecord
from .records import as_numpy as _np
from .settings import SWEEP_KEYS, base_hyper

__all__ = ["speed", "base_hyper_of"]


def _window_start(K: int) -> int:
    return int(WINDOW_START * K)


def base_hyper_of(run: dict) -> HeavyBall:
    """The optimizer of a saved run's settings."""
    return HeavyBall(
        lr=run["lr"],
        momentum=run["momentum"],
        weight_decay=run["weight_decay"],
        batch_size=run["batch_size"],
    )


def _verdict(st: dict) -> str:
    if st["stationary"] is None:
        return f"n/a (ESS {st['ess']:.0f} < {MIN_ESS:g})"
    return str(st["stationary"])


def _edge_weight(fn, nodes, hp):
    """A trace weight of :mod:`dynlab.traces` at Ritz values clipped into the stable range.

    Ritz values of H at theta* may be slightly negative (an indefinite Hessian) or, for a
    large-lr sweep, beyond the stability edge ``lr (rho + lambda) < 2 (1 + beta)`` where the
    stationary law does not exist; there the weight is taken at the nearest admissible value.
    """
    top = EDGE_CLIP * hp.stability_limit / hp.lr - hp.weight_decay
    return fn(np.clip(nodes, 0.0, top), hp)


def _calibration(base_d2, lo: int, hi: int, hp_base):
    """sigma^2 tr(H) from the base run's mean speed over steps [lo, hi) (eq. 12 inverted)."""
    hi = min(hi, len(base_d2))
    lo = min(lo, hi - 4)
    avg = an.windowed_mean(base_d2, lo, hi)
    tr = float(trace_from_speed(hp_base, avg.mean))
    return tr, tr * avg.se / avg.mean, (lo, hi), avg


def _fmt(avg_ok: bool, x: float, nd: int = 3) -> str:
    return f"{x:.{nd}g}" if avg_ok else f"n/a (ESS < {MIN_ESS:g})"


def speed(rep, res, a) -> dict:
    base_rec = RunRecord.from_array(res["base"]["record"])
    hp_base = base_hyper(a)
    K = base_rec.steps
    k0 = _window_start(K)
    base_half = an.windowed_mean(base_rec.delta2, k0, K)
    rules = res.get("noise", {}).get("rules")
    nodes, weights = (None, None) if rules is None else (_np(rules[0]), _np(rules[1]))
    rep.section(
        "Instantaneous speed law (seed 003 eq. 12, Fig. 6)",
        "Each sweep run is measured over the second half of its own run (steps "
        f"[{WINDOW_START:g} K, K)), with a standard error from the integrated autocorrelation time "
        f"(dynlab.stats.time_average); with an effective sample size below {MIN_ESS:g} no ratio "
        "or verdict is given. Two predictions: (1) Sigma = sigma^2 H, eq. 12 "
        "E‖delta‖^2 = lr^2 sigma^2 tr(H) / (S (1 - beta^2)) with sigma^2 tr(H) calibrated on the "
        "base run over the same steps as the sweep run (so that a speed still rising after the "
        "start at theta* biases both alike); (2) measured Sigma, no fitted constant: "
        "tr(f_v(H) Sigma) with the exact discrete weight f_v (dynlab.traces.speed_weight) by "
        "Lanczos quadrature started from centred minibatch gradients at theta*. "
        "Yaida's fluctuation-dissipation relation E[(theta - theta*)^T g] = (1 + beta) / (2 lr) "
        "E‖delta‖^2 is checked on the same window (ratio 1 at stationarity).",
    )
    rows, fdr_rows, out = [], [], {"window_start": WINDOW_START, "runs": []}
    runs = [{"key": "base", "value": "", "record": res["base"]["record"], "run": None}]
    runs += list(res["sweeps"]["runs"]) if "sweeps" in res else []
    for r in runs:
        hp = hp_base if r["run"] is None else base_hyper_of(r["run"])
        rec = RunRecord.from_array(r["record"])
        lo, hi = _window_start(rec.steps), rec.steps
        m = an.windowed_mean(rec.delta2, lo, hi)
        s2trH, s2trH_se, (blo, bhi), bavg = _calibration(base_rec.delta2, lo, hi, hp_base)
        pred = float(speed_from_trace(hp, s2trH))
        pred_se = pred * s2trH_se / s2trH
        ok = an.verdict(m, bavg)
        quad = None
        if nodes is not None:
            est = noise_trace(
                nodes,
                weights,
                lambda x, hp=hp: _edge_weight(speed_weight, x, hp),
                batch_size=int(res["noise"]["S"]),  # Sigma = S Cov(g_S) of the noise batches
                n_centred=int(res["noise"]["n_batches"]),
            )
            quad = (float(est.value), float(est.se))
        st = an.stationarity(rec.delta2)
        fdr = fluctuation_dissipation_series(rec.theta_g[lo:hi], rec.delta2[lo:hi], hp)
        fdr_ok = an.verdict(fdr.lhs, fdr.rhs, fdr.diff)
        c = fit_power_law(np.arange(1, hi + 1, dtype=float), rec.Delta2, window="last_two_thirds")
        label = "base" if r["run"] is None else f"{r['key']}={r['value']:g}"
        if r["run"] is not None and ok:
            rep.predict(
                f"speed {label} (Sigma = sigma^2 H)",
                pred,
                m.mean,
                float(np.hypot(m.se, pred_se)),
                exact=False,
                note=f"eq. 12, base steps [{blo}, {bhi})",
            )
        if quad is not None and ok:
            rep.predict(
                f"speed {label} (measured Sigma)",
                quad[0],
                m.mean,
                float(np.hypot(m.se, quad[1])),
                exact=False,
                note="tr(f_v(H) Sigma), no fitted constant",
            )
        rows.append(
            [
                label,
                f"[{lo}, {hi})",
                f"{m.mean:.4g} +- {m.se:.2g}",
                f"{m.ess:.0f}",
                f"{pred:.4g}",
                "n/a" if quad is None else f"{quad[0]:.4g} +- {quad[1]:.2g}",
                _fmt(ok, m.mean / pred),
                "n/a" if quad is None else _fmt(ok, m.mean / quad[0]),
                _verdict(st),
                f"{c.c:.3f}",
            ]
        )
        fdr_rows.append(
            [
                label,
                f"{fdr.lhs.mean:.4g}",
                f"{fdr.rhs.mean:.4g}",
                _fmt(fdr_ok, fdr.ratio),
                _fmt(fdr_ok, fdr.z, 2),
                f"{min(fdr.lhs.ess, fdr.rhs.ess, fdr.diff.ess):.0f}",
            ]
        )
        out["runs"].append(
            {
                "key": r["key"],
                "value": r["value"],
                "window": [lo, hi],
                "calibration_window": [blo, bhi],
                "measured": m.mean,
                "stderr": m.se,
                "ess": m.ess,
                "predicted_sigma_H": pred,
                "predicted_sigma_H_stderr": pred_se,
                "predicted_quadrature": None if quad is None else quad[0],
                "predicted_quadrature_stderr": None if quad is None else quad[1],
                "ratio": m.mean / pred if ok else None,
                "ratio_quadrature": m.mean / quad[0] if ok and quad is not None else None,
                "stationary": st["stationary"],
                "fdr_ratio": fdr.ratio,
                "fdr_z": fdr.z,
                "fdr_ess": min(fdr.lhs.ess, fdr.rhs.ess, fdr.diff.ess),
                "c": c.c,
                "c_stderr": c.stderr,
            }
        )
    drift = [
        (lo, hi, an.windowed_mean(base_rec.delta2, lo, hi).mean / base_half.mean)
        for lo, hi in sorted({tuple(r["calibration_window"]) for r in out["runs"]})
    ]
    rep.text(
        "Drift of the base run's speed: mean ‖delta‖^2 over each calibration window / over its "
        f"second half [{k0}, {K}) = "
        + ", ".join(f"[{lo}, {hi}): {x:.3f}" for lo, hi, x in drift)
        + " (1 when the base run is stationary over both)."
    )
    rep.table(
        [
            "run",
            "steps",
            "measured ‖delta‖^2",
            "ESS",
            "eq. 12, Sigma = sigma^2 H",
            "quadrature, measured Sigma",
            "ratio (Sigma ~ H)",
            "ratio (measured Sigma)",
            "stationary",
            "c",
        ],
        rows,
    )
    rep.text("Fluctuation-dissipation relation (Yaida 2019) on the same windows:")
    rep.table(
        ["run", "E[(theta - theta*)^T g]", "(1 + beta)/(2 lr) E‖delta‖^2", "ratio", "z", "ESS"],
        fdr_rows,
    )
    out["base_drift"] = [{"window": [lo, hi], "ratio": x} for lo, hi, x in drift]
    _speed_figure(rep, out, a)
    rep.value("speed", out)
    sweeps = [r for r in out["runs"] if r["key"] != "base"]
    ratios = np.array([r["ratio"] for r in sweeps if r["ratio"] is not None])
    return {
        "ratio_min": float(ratios.min()) if ratios.size else None,
        "ratio_max": float(ratios.max()) if ratios.size else None,
        "n_stationary": int(sum(bool(r["stationary"]) for r in sweeps)),
        "n_runs": len(sweeps),
        "fdr_ratio_base": out["runs"][0]["fdr_ratio"],
    }


def _speed_figure(rep, out, a) -> None:
    fig, ax = new_figure(2, 3)
    for j, key in enumerate(SWEEP_KEYS):
        rs = [r for r in out["runs"] if r["key"] == key]
        if not rs:
            continue
        x = [r["value"] for r in rs]
        ax[0, j].errorbar(
            x,
            [r["measured"] for r in rs],
            yerr=[r["stderr"] for r in rs],
            fmt="o",
            label="measured",
        )
        ax[0, j].plot(x, [r["predicted_sigma_H"] for r in rs], "k:", marker="x", label="Sigma ~ H")
        if rs[0]["predicted_quadrature"] is not None:
            ax[0, j].plot(
                x,
                [r["predicted_quadrature"] for r in rs],
                "r--",
                marker="+",
                label="measured Sigma",
            )
        ax[1, j].errorbar(x, [r["c"] for r in rs], yerr=[r["c_stderr"] for r in rs], fmt="o")
        ax[1, j].axhline(1.0, ls=":", color="0.5")
        for i in (0, 1):
            if key != "momentum":
                ax[i, j].set_xscale("log")
            ax[i, j].set_xlabel(key)
        ax[0, j].set_yscale("log")
        ax[0, j].set_ylabel("‖delta‖^2")
        ax[1, j].set_ylabel("diffusion exponent c")
    ax[0, 0].legend(fontsize=7)
    rep.figure(
        fig,
        "speed.png",
        "Sweeps of lr, batch size and momentum: measured speed vs eq. 12 with Sigma ~ H and vs "
        "the measured-Sigma quadrature (top); fitted diffusion exponent (bottom).",
    )
