"""The report of the main job: prediction rows, compact tables, gap summaries, prose.

Every measured quantity enters :class:`validation.report.Report` twice at most:

* against the exact prediction in the Gaussian-noise simulation, flagged ``exact`` (its z-score
  must be O(1));
* against the exact prediction in the minibatch simulation, flagged approximate (a measured gap).

The SDE predictions are compared in the SDE-vs-exact gap table (``values["sde_gap"]`` in
results.json), with the gap in units of the Gaussian simulation's standard error.
"""

from __future__ import annotations

import math

import numpy as np

from .config import Z_LIMIT
from .estimate import Estimate
from .experiment import TRANSIENT_STEPS
from .predict import SDE_SIGN, Pair

__all__ = ["LABELS", "Gaps", "write_setting", "write_gap_tables", "write_sweeps", "summary"]

#: Report label of each stationary quantity.
LABELS = {
    "speed": "speed E||theta_{k+1} - theta_k||^2 (eq. 12)",
    "potential": "potential E[L(theta)] - L(mu) (= kinetic, app. G.3)",
    "var_theta_1": "Var <theta, q_1>",
    "var_theta_low": "Var <theta, q_low>",
    "var_v_1": "Var <v, q_1>",
    "var_v_low": "Var <v, q_low>",
    "cov_theta_v_1": "Cov(<theta, q_1>, <v, q_1>)",
    "isotropy": "isotropy Var<theta,q_low> / Var<theta,q_1> (eq. 10)",
    "velocity_shape": "velocity shape Var<v,q_low> / Var<v,q_1> (eq. 46)",
}


def _z(est: Estimate, predicted: float) -> float:
    return (est.value - predicted) / est.stderr if est.stderr > 0 else math.nan


def _fmt_pm(est: Estimate) -> str:
    return f"{est.value:.4g} ± {est.stderr:.2g}"


class Gaps:
    """Collects the SDE-vs-exact and minibatch-vs-exact gaps of one run for results.json."""

    def __init__(self):
        self.sde: dict = {}
        self.minibatch: dict = {}

    def add(self, name: str, pair: Pair, measured: dict, sign: int | None, relative: bool):
        g, m = measured["gaussian"], measured["minibatch"]
        entry = {
            "exact": pair.exact,
            "sde": pair.sde,
            "abs_gap": pair.sde - pair.exact,
            "rel_gap": pair.gap if relative else None,
            "gap_in_stderr": (pair.sde - pair.exact) / g.stderr if g.stderr > 0 else math.nan,
            "z_sde_vs_gaussian_sim": _z(g, pair.sde),
            "theory_sign": sign,
        }
        if sign is not None:
            entry["sign_as_theory"] = bool(np.sign(pair.sde - pair.exact) == sign)
        self.sde[name] = entry
        self.minibatch[name] = {
            "exact": pair.exact,
            "measured": m.value,
            "stderr": m.stderr,
            "abs_gap": m.value - pair.exact,
            "rel_gap": (m.value - pair.exact) / abs(pair.exact) if relative else None,
            "z": _z(m, pair.exact),
        }


def _gap(x: float, ref: float, relative: bool) -> str:
    return f"{(x - ref) / abs(ref):+.2%}" if relative else f"{x - ref:+.3g}"


def _compare(
    report,
    gaps: Gaps,
    name: str,
    pair: Pair,
    measured: dict,
    *,
    sign=None,
    relative=True,
    note: str = "",
) -> list:
    """Record the rows of one quantity; return its compact-table row.

    ``relative``: gaps as a fraction of the exact value (stationary quantities) or absolute
    (exponents, mean trajectories, which cross zero).
    """
    g, m = measured["gaussian"], measured["minibatch"]
    report.predict(
        f"{name} [gaussian]",
        pair.exact,
        g.value,
        g.stderr,
        exact=True,
        **g.gate(),
        note=f"SDE {pair.sde:.4g} (gap {_gap(pair.sde, pair.exact, relative)})"
        + (f"; {note}" if note else ""),
    )
    report.predict(
        f"{name} [minibatch]",
        pair.exact,
        m.value,
        m.stderr,
        exact=False,
        **m.gate(),
        note="approximation: multiplicative noise, dependent batches",
    )
    gaps.add(name, pair, measured, sign, relative)
    return [
        name,
        pair.exact,
        pair.sde,
        _gap(pair.sde, pair.exact, relative),
        _fmt_pm(g),
        f"{_z(g, pair.exact):+.2f}",
        f"{_z(g, pair.sde):+.1f}",
        _fmt_pm(m),
        _gap(m.value, pair.exact, relative),
        f"{_z(m, pair.exact):+.1f}",
    ]


_HEAD = [
    "quantity",
    "exact",
    "SDE",
    "SDE gap",
    "sim (a) Gaussian",
    "z (a) vs exact",
    "z (a) vs SDE",
    "sim (b) minibatch",
    "(b) gap vs exact",
    "(b) in s.e.",
]


def write_setting(report, gaps: Gaps, s: dict, setup) -> None:
    """Section of one momentum: stationary quantities, displacement, exponent, mean trajectory."""
    beta = s["momentum"]
    tag = f"momentum {beta:g}"
    sgd = s["model"]
    zeta, n_under = sgd.modes.zeta, int(np.sum(sgd.modes.regime == "under"))
    report.section(
        f"Momentum {beta:g}",
        f"lr {sgd.lr:g}, batch size {sgd.batch_size}, kappa = S (1 - beta^2) = {sgd.kappa:.4g}; 1 "
        "- spectral "
        f"radius of the recursion = {1.0 - sgd.discrete.spectral_radius:.3g} (slowest relaxation); "
        "damping "
        f"ratios zeta in [{zeta.min():.3g}, {zeta.max():.3g}] ({n_under} of {sgd.d} modes "
        "underdamped); "
        f"minibatch ensembles burned in for {s['burn_in']} steps.",
    )
    rows = []
    for key, label in LABELS.items():
        rows.append(
            _compare(
                report,
                gaps,
                f"{label} [{tag}]",
                s["predicted"][key],
                {k: s["measured"][k][key] for k in s["measured"]},
                sign=SDE_SIGN[key],
            )
        )
    low = setup.low_mode + 1
    report.text(
        f"Stationary quantities (q_low = q_{low}, rho_1 / rho_{low} = "
        f"{sgd.rho[0] / sgd.rho[low - 1]:.4g}):"
    )
    report.table(_HEAD, rows)
    rows = []
    for k, _ in s["lags"]["gaussian"].items():
        pair = Pair(float(s["displacement_exact"][k - 1]), float(s["displacement_sde"][k - 1]))
        rows.append(
            _compare(
                report,
                gaps,
                f"E||Delta_k||^2, k = {k} [{tag}]",
                pair,
                {kind: s["lags"][kind][k] for kind in s["lags"]},
            )
        )
    for n, length in enumerate(s["lengths"]):
        pair = Pair(float(s["exponent_by_length_exact"][n]), float(s["exponent_by_length_sde"][n]))
        rows.append(
            _compare(
                report,
                gaps,
                f"exponent c, fit on k in [{length // 3 + 1}, {length}] [{tag}]",
                pair,
                {kind: e[n] for kind, e in s["exponent_by_length"].items()},
                relative=False,
                note="jackknife s.e.; O(1/M) fit bias",
            )
        )
    report.text(
        "Global displacement E||theta_k - theta_0||^2 from stationarity, and the exponent c of a "
        "line "
        "fitted to the log-log plot of the ensemble-mean curve over the last 2/3 of the first n "
        "steps "
        "(seed 003 app. H.2; for n = all steps it is the paper's rule). The predicted exponent is "
        "the same "
        "fit applied to the predicted curve:"
    )
    report.table(_HEAD, rows)
    rows = []
    tp = s["transient_predicted"]
    for k in (k for k in TRANSIENT_STEPS if k <= s["transient_steps"][-1]):
        for var, label in (("theta", "<theta_k, q_1>"), ("v", "<v_k, q_1>")):
            pair = Pair(float(tp[f"{var}_exact"][k]), float(tp[f"{var}_sde"][k]))
            meas = {
                kind: Estimate(
                    float(c[f"{var}_mean"][k - 1]),
                    float(c[f"{var}_se"][k - 1]),
                    c["paths"] - 1,
                    c["paths"],
                )
                for kind, c in s["transient"].items()
            }
            rows.append(
                _compare(report, gaps, f"E{label}, k = {k} [{tag}]", pair, meas, relative=False)
            )
    report.text(
        "Mean trajectory from theta_0 (eq. 5), projected on q_1; one value per path at step k:"
    )
    report.table(_HEAD, rows)


def write_gap_tables(report, gaps: Gaps) -> None:
    """SDE-vs-exact gap per quantity and the minibatch simulation's gap; stored in results.json."""
    report.section(
        "SDE vs exact recursion",
        "The SDE of seed 003 (eq. 4) models the optimizer with O(lr) error; the exact recursion "
        "has none. "
        "'gap' is (SDE - exact) / |exact|; 'in s.e.' divides SDE - exact by the Gaussian "
        "simulation's standard "
        "error (how clearly the simulation resolves the SDE's error); 'theory says' is the sign of "
        "the gap the "
        "per-mode closed forms fix (validation/linreg/predict.py), blank where none is claimed. "
        "Exponents and "
        "mean trajectories cross zero: their gaps are absolute.",
    )
    rows = []
    for name, e in gaps.sde.items():
        gap = f"{e['rel_gap']:+.3%}" if e["rel_gap"] is not None else f"{e['abs_gap']:+.3g} (abs.)"
        sign = {1: "SDE > exact", -1: "SDE < exact"}.get(e["theory_sign"], "")
        ok = {True: "yes", False: "NO"}.get(e.get("sign_as_theory"), "")
        rows.append([name, e["exact"], e["sde"], gap, f"{e['gap_in_stderr']:+.1f}", sign, ok])
    report.table(["quantity", "exact", "SDE", "gap", "in s.e.", "theory says", "agrees"], rows)
    report.value("sde_gap", gaps.sde)
    report.value("minibatch_gap", gaps.minibatch)


def write_sweeps(report, sweeps: dict) -> None:
    """Sweep tables (Fig. 6): speed and exponent per point; exact rows gated, minibatch measured."""
    report.section(
        "Sweeps (seed 003 Fig. 6, Table 4)",
        "Each point is a fresh stationary ensemble; the speed is the per-path time average of "
        "||theta_{k+1} - theta_k||^2, the exponent the fit of the ensemble-mean ||Delta_k||^2 over "
        "the last 2/3 "
        f"of the first {sweeps['fit_steps']} steps (before it saturates). In the linear model the "
        "exponent does "
        "not depend on the batch size (E||Delta_k||^2 is proportional to 1 / S at every k).",
    )
    rows = []
    for axis, points in sweeps.items():
        if axis == "fit_steps":
            continue
        for p in points:
            tag = f"{axis} = {p['value']:.4g}"
            for q in ("speed", "exponent"):
                g, m = p[q]["gaussian"], p[q]["minibatch"]
                ex, sde = p[f"{q}_exact"], p[f"{q}_sde"]
                report.predict(
                    f"sweep {q} [{tag}, gaussian]",
                    ex,
                    g.value,
                    g.stderr,
                    exact=True,
                    **g.gate(),
                    note=f"SDE {sde:.4g}",
                )
                report.predict(
                    f"sweep {q} [{tag}, minibatch]",
                    ex,
                    m.value,
                    m.stderr,
                    exact=False,
                    **m.gate(),
                    note="approximation",
                )
                rows.append(
                    [
                        tag,
                        q,
                        ex,
                        sde,
                        _gap(sde, ex, q == "speed"),
                        _fmt_pm(g),
                        f"{_z(g, ex):+.2f}",
                        _fmt_pm(m),
                        f"{_z(m, ex):+.1f}",
                    ]
                )
    report.table(
        [
            "point",
            "quantity",
            "exact",
            "SDE",
            "SDE gap",
            "sim (a) Gaussian",
            "z (a)",
            "sim (b) minibatch",
            "(b) in s.e.",
        ],
        rows,
    )


def summary(report) -> dict:
    """Headline numbers of the exact predictions: how many, the largest |z|, how many pass the
    gate, the rms z and the fewest independent samples behind one; prints the latter.

    The gate is on ``max_z_gate``, the largest :attr:`validation.report.Prediction.z_gate`: each
    z converted from Student's t with its standard error's degrees of freedom to the normal
    deviate of equal tail probability, so ``max_z_gate <= 4`` has the same false-alarm rate at
    any number of paths. ``n_within_4`` counts the rows with ``z_gate <= Z_LIMIT`` (= 4; the key
    keeps its name so that results files stay comparable).
    """
    rows = [p for p in report.predictions if p.exact]
    z = np.array([p.z for p in rows])
    zg = np.array([p.z_gate for p in rows])
    n_eff = [p.n_eff for p in rows if p.n_eff is not None]
    out = {
        "n_exact": int(z.size),
        # max, not nanmax: a NaN z (a prediction or a measurement that failed) shows as NaN
        "max_abs_z": float(np.max(np.abs(z))) if z.size else math.nan,
        "max_z_gate": float(np.max(zg)) if z.size else math.nan,
        "n_within_4": int(np.sum(zg <= Z_LIMIT)),
        "rms_z": float(np.sqrt(np.nanmean(z**2))) if z.size else math.nan,
        "min_dof": float(min(p.dof for p in rows)) if rows else math.nan,
        "min_n_eff": float(min(n_eff)) if n_eff else math.nan,
    }
    print(
        f"{out['n_exact']} exact predictions; fewest independent samples behind one: "
        f"n_eff = {out['min_n_eff']:g} (dof {out['min_dof']:g})"
    )
    report.value("summary", out)
    return out
