"""Ideal-gas thermodynamics of scale-invariant SGD with weight decay, theory vs simulation.

``python -m validation.thermo [--quick] [--out DIR] [--seed N]``

For each sphere dimension d and each protocol ("sphere", "elr", "lr") it runs an ensemble of
the real discrete process on the linear toy loss (``dynlab.thermo.simulate``) and compares with
``dynlab.thermo``: the temperature read off the Gibbs law (a thermometer), its second moment,
the entropy of the weights, the stationary radius / pressure (SDE-limit value and the
O(lr)-corrected discrete value), the equation of state pV = NT, and the Maxwell relations from
runs at neighbouring states (Sadrtdinov et al. 2025, arXiv:2511.07308; derivations in
docs/thermo.md). Writes report.md, results.json and figures; exits with status 1, naming the
rows, when a prediction falls outside its gate (``Z_GATE`` standard errors, plus the O(lr)
bias allowance ``SDE_BIAS_LRS`` for the SDE-limit radius, pressure and pV / (N T)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from dynlab.thermo import ScaleInvariantSGD, ThermoRun, VonMisesFisherGibbs, simulate
from validation.report import Report, new_figure, run_validation

#: The field h of the toy loss L(w) = h <mu, w / |w|>.
FIELD = 1.0
#: Effective learning rate of every base state: small enough that O(lr) biases stay ~1e-3.
EFFECTIVE_LR = 1e-3
#: Ratio between neighbouring states for the finite-difference Maxwell relations.
STEP = 1.25

# --- thresholds of this validation ----------------------------------------------------------

#: Every predicted-vs-measured row is accepted when |z| <= Z_GATE. Bonferroni over the full
#: run's ~120 rows at a 1e-3 family-wise false-alarm rate: 4.5 for Gaussian z, 5.0 to 5.3 for
#: the t-distributed z of 32 to 48 independent chains (the full run's largest |z| is 4.4).
Z_GATE = 5.0
#: The SDE-limit radius, pressure and pV / (N T) have an O(effective lr) relative bias that
#: the long runs resolve (at most 1.8 EFFECTIVE_LR in the full run; the discrete rows predict
#: it): their gate adds SDE_BIAS_LRS * EFFECTIVE_LR * |predicted| to the Z_GATE band.
SDE_BIAS_LRS = 5.0
#: Central-difference step in the mean cosine for dT/dt of the thermometer (delta method):
#: truncation O(step^2) and rounding O(eps / step) are both below 1e-9 relative.
THERMOMETER_STEP = 1e-6


class Estimate(NamedTuple):
    """A measured value and its standard error."""

    value: float
    se: float


@dataclass(frozen=True)
class StateRun:
    """One simulated state: the process, its measurements, the predictions and the raw run."""

    process: ScaleInvariantSGD
    measured: dict
    predicted: dict
    run: ThermoRun


@dataclass(frozen=True)
class EosPoint:
    """One point of the temperature sweep of the equation of state."""

    NT: float
    pV: float
    protocol: str


@dataclass(frozen=True)
class EosRow:
    """pV / (N T) of one base state: measured and the discrete-map prediction."""

    tag: str
    measured: Estimate
    discrete: float


def _gated(report: Report, name: str, predicted: float, est: Estimate, note: str, *, sde=False):
    """Record a prediction and gate it: Z_GATE standard errors (+ the O(lr) bias if ``sde``)."""
    row = report.predict(name, predicted, *est, exact=False, note=note)
    bias = SDE_BIAS_LRS * EFFECTIVE_LR * abs(predicted) if sde else 0.0
    reason = f"|z| <= {Z_GATE:g}" + (f" + O(lr) bias {SDE_BIAS_LRS:g} lr" if sde else "")
    half = Z_GATE * est.se + bias
    report.gate(row, predicted - half, predicted + half, reason)
    return row


def _process(
    d: int, protocol: str, *, T_scale: float = 1.0, x_scale: float = 1.0
) -> ScaleInvariantSGD:
    """Base state: T = h / d (Gibbs concentration kappa = d), r* = 1; scales move T and V or p."""
    T = T_scale * FIELD / d
    sigma2 = 2.0 * T / EFFECTIVE_LR
    if protocol == "sphere":
        return ScaleInvariantSGD(d, "sphere", EFFECTIVE_LR, sigma2, radius=float(np.sqrt(x_scale)))
    wd = x_scale * (d - 1) * FIELD / d
    if protocol == "elr":
        return ScaleInvariantSGD(d, "elr", EFFECTIVE_LR, sigma2, weight_decay=wd)
    # "lr": x_scale multiplies lambda, T_scale multiplies lr (sigma2 fixed at the base value)
    return ScaleInvariantSGD(
        d, "lr", T_scale * EFFECTIVE_LR, 2.0 * FIELD / d / EFFECTIVE_LR, weight_decay=wd
    )


def _budget(d: int, quick: bool) -> dict:
    if quick:
        return dict(n_chains=32, n_steps=5000, burn_in=2500)
    return dict(n_chains=int(np.clip(8000 // d, 32, 512)), n_steps=14000, burn_in=6000)


def _measure(run: ThermoRun, gibbs: VonMisesFisherGibbs) -> dict:
    """Every measured quantity of a run, as :class:`Estimate` by name."""
    p = run.process
    t, t_se = run.mean("t")
    T_meas = gibbs.temperature_from_mean_cosine(t)
    h = THERMOMETER_STEP
    dT = abs(
        gibbs.temperature_from_mean_cosine(t + h) - gibbs.temperature_from_mean_cosine(t - h)
    ) / (2 * h)
    r2, r2_se = run.mean("r2")
    S, S_se = run.entropy()
    pr, pr_se = run.pressure()
    if p.protocol == "lr":
        # T = lr sigma2 / (2 r^2): the protocol's temperature at the measured radius
        T_ctrl, T_ctrl_se = p.lr * p.sigma2 / (2 * r2), p.lr * p.sigma2 / (2 * r2**2) * r2_se
    else:
        T_ctrl, T_ctrl_se = p.temperature, 0.0
    V, V_se = 0.5 * r2, 0.5 * r2_se
    eos = pr * V / (p.n_dof * T_ctrl)
    eos_se = eos * np.sqrt((pr_se / pr) ** 2 + (V_se / V) ** 2 + (T_ctrl_se / T_ctrl) ** 2)
    return dict(
        t=Estimate(t, t_se),
        t2=Estimate(*run.mean("t2")),
        T=Estimate(T_meas, dT * t_se),
        S=Estimate(S, S_se),
        r=Estimate(np.sqrt(r2), r2_se / (2 * np.sqrt(r2))),
        p=Estimate(pr, pr_se),
        V=Estimate(V, V_se),
        eos=Estimate(eos, eos_se),
        T_ctrl=Estimate(T_ctrl, T_ctrl_se),
        log_r=Estimate(*run.mean("log_r")),
    )


def _predict(p: ScaleInvariantSGD, gibbs: VonMisesFisherGibbs) -> dict:
    """Every prediction for a state (SDE limit and discrete corrections), by name."""
    T = p.temperature
    G = gibbs.grad_sq(T)
    r_disc = p.discrete_radius(G)
    state = p.state(gibbs)
    if p.protocol == "sphere":
        eos_disc = p.discrete_pressure(G) * p.volume / (p.n_dof * T)
    elif p.protocol == "elr":
        eos_disc = p.weight_decay * 0.5 * r_disc**2 / (p.n_dof * T)
    else:  # T = lr sigma2 / (2 r^2) at the discrete radius
        eos_disc = p.weight_decay * r_disc**4 / (p.n_dof * p.lr * p.sigma2)
    return dict(
        T=T,
        t=gibbs.mean_cosine(T),
        t2=gibbs.second_moment(T),
        r=p.r,
        r_disc=r_disc,
        S=state["S"],
        S_disc=gibbs.entropy(T) + (p.d - 1) * np.log(r_disc),
        p=p.pressure,
        p_disc=p.discrete_pressure(G),
        eos_disc=eos_disc,
        U=gibbs.energy(T),
        U_ideal=gibbs.energy(T, exact=False),
        S_dir=gibbs.entropy(T),
        S_dir_ideal=gibbs.entropy(T, exact=False),
    )


def _diff(a: Estimate, b: Estimate, scale: float = 1.0) -> Estimate:
    """``scale (a - b)`` of two independent estimates."""
    return Estimate((a.value - b.value) * scale, np.hypot(a.se, b.se) * abs(scale))


def run_all(quick: bool, seed: int, report: Report) -> None:
    dims = (3, 10) if quick else (2, 3, 10, 100, 1000)
    maxwell_dims = (3, 10) if quick else (3, 10, 100)
    rng = np.random.default_rng(seed)
    eos_points: list[EosPoint] = []
    eos_rows: list[EosRow] = []
    base_runs: dict[tuple[int, str], StateRun] = {}
    report.section(
        "Setup",
        f"Loss L(w) = h <mu, w/|w|> (h = {FIELD}), isotropic noise sigma^2 = 2T / effective_lr, "
        f"effective_lr = {EFFECTIVE_LR}. Base state per d: T = h/d (Gibbs concentration "
        "kappa = d), r* = 1 (elr, lr: weight_decay = (d-1) h/d); the elr/lr chains start at "
        "r = 1.5 (6000 burn-in steps: the radius relaxes at 2 lr weight_decay per step or "
        "faster, >= 6 e-folds), every chain at a uniformly random direction. Standard errors "
        "across independent chains (entropy: jackknife over chains). 'SDE' rows are the "
        "continuous-time predictions (O(lr) bias expected); 'discrete' rows add the exact O(lr) "
        "gradient term of the discrete radius/pressure maps. Gates: every row within "
        f"|z| <= {Z_GATE:g}; the SDE radius, pressure and pV/(NT) rows within that plus "
        f"{SDE_BIAS_LRS:g} effective_lr relative.",
    )
    for d in dims:
        gibbs = VonMisesFisherGibbs(d, FIELD)
        for protocol in ("sphere", "elr", "lr"):
            states = [(1.0, 1.0)]
            if d in maxwell_dims:
                states += [(1.0, STEP), (STEP, 1.0)]
            results = {}
            for Ts, xs in states:
                proc = _process(d, protocol, T_scale=Ts, x_scale=xs)
                run = simulate(
                    proc, field=FIELD, r0=1.5, seed=rng.integers(2**31), **_budget(d, quick)
                )
                results[(Ts, xs)] = StateRun(proc, _measure(run, gibbs), _predict(proc, gibbs), run)
            base = results[(1.0, 1.0)]
            base_runs[(d, protocol)] = base
            m, pr = base.measured, base.predicted
            tag = f"{protocol}, d={d}"
            _gated(report, f"T from Gibbs law [{tag}]", pr["T"], m["T"], "SDE")
            _gated(report, f"E t^2 [{tag}]", pr["t2"], m["t2"], "SDE")
            _gated(report, f"entropy S [{tag}]", pr["S"], m["S"], "SDE (vMF exact)")
            if protocol == "sphere":
                _gated(report, f"pressure [{tag}]", pr["p"], m["p"], "SDE (d-1)T/r^2", sde=True)
                _gated(report, f"pressure [{tag}]", pr["p_disc"], m["p"], "discrete, O(lr) term")
            else:
                _gated(report, f"rms radius [{tag}]", pr["r"], m["r"], "SDE r*", sde=True)
                _gated(report, f"rms radius [{tag}]", pr["r_disc"], m["r"], "discrete, O(lr) terms")
            eos_note = "equation of state (SDE)"
            _gated(report, f"pV / (N T) [{tag}]", 1.0, m["eos"], eos_note, sde=True)
            _gated(report, f"pV / (N T) [{tag}]", pr["eos_disc"], m["eos"], "discrete, O(lr) term")
            eos_rows.append(EosRow(tag, m["eos"], pr["eos_disc"]))
            if d in maxwell_dims:
                _maxwell(report, d, protocol, results)
    # Equation of state over two decades of temperature (d = 10)
    for protocol in ("sphere", "elr", "lr"):
        for Ts in np.logspace(-1, 1, 3 if quick else 7):
            proc = _process(10, protocol, T_scale=Ts)
            # start at r* (the relaxation from r = 1.5 is checked by the main runs; at low T it
            # is slow)
            run = simulate(
                proc,
                field=FIELD,
                r0=proc.r,
                seed=rng.integers(2**31),
                n_chains=16 if quick else 48,
                n_steps=4000 if quick else 10000,
                burn_in=2000 if quick else 4000,
            )
            m = _measure(run, VonMisesFisherGibbs(10, FIELD))
            eos_points.append(
                EosPoint(proc.n_dof * m["T_ctrl"].value, m["p"].value * m["V"].value, protocol)
            )
    report.value("eos_sweep_d10", [[e.NT, e.pV, e.protocol] for e in eos_points])
    _figures(report, eos_points, eos_rows, base_runs, dims)


def _maxwell(report: Report, d: int, protocol: str, results: dict[tuple, StateRun]) -> None:
    """Finite-difference Maxwell relations between the base state and its two neighbours."""
    base, wider, hotter = (results[k] for k in [(1.0, 1.0), (1.0, STEP), (STEP, 1.0)])
    p0, m0, q0 = base.process, base.measured, base.predicted
    tag = f"{protocol}, d={d}"
    N = p0.n_dof
    dT = hotter.process.temperature - p0.temperature
    if protocol == "sphere":
        # F(T, V): (dS/dV)_T = (dp/dT)_V, in the form (dS/dln V)_T = V (dp/dT)_V = N.
        lhs = _diff(wider.measured["S"], m0["S"], 1.0 / np.log(wider.process.volume / p0.volume))
        rhs = _diff(hotter.measured["p"], m0["p"], p0.volume / dT)
        rhs_pred = p0.volume * (hotter.predicted["p_disc"] - q0["p_disc"]) / dT
        _gated(report, f"(dS/dlnV)_T [{tag}]", N, lhs, "Maxwell LHS, SDE = N")
        _gated(report, f"V (dp/dT)_V [{tag}]", rhs_pred, rhs, "Maxwell RHS (discrete p)")
    elif protocol == "elr":
        # G(T, p): (dS/dp)_T = -(dV/dT)_p, in the form (dS/dln p)_T = -p (dV/dT)_p = -N.
        dlnp = np.log(wider.process.pressure / p0.pressure)
        lhs = _diff(wider.measured["S"], m0["S"], 1.0 / dlnp)
        rhs = _diff(hotter.measured["V"], m0["V"], -p0.pressure / dT)
        _gated(report, f"(dS/dlnp)_T [{tag}]", -N, lhs, "Maxwell LHS, SDE = -N")
        _gated(report, f"-p (dV/dT)_p [{tag}]", -N, rhs, "Maxwell RHS, SDE = -N")
    else:
        # Fixed lr: T and r* both move with (lr, weight_decay); entropy slopes from the exact law.
        for state, var in [(hotter, "lr"), (wider, "weight_decay")]:
            dlog = np.log(getattr(state.process, var) / getattr(p0, var))
            meas = _diff(state.measured["S"], m0["S"], 1.0 / dlog)
            slope = (state.predicted["S"] - q0["S"]) / dlog
            _gated(report, f"dS/dln {var} [{tag}]", slope, meas, "SDE")


def _figures(
    report: Report,
    eos_points: list[EosPoint],
    eos_rows: list[EosRow],
    base_runs: dict[tuple[int, str], StateRun],
    dims,
) -> None:
    fig, axes = new_figure(1, 2)
    marks = {"sphere": "o", "elr": "s", "lr": "^"}
    for e in eos_points:
        axes[0].loglog(e.NT, e.pV, marks[e.protocol], ms=6, mfc="none", color="C0")
    NT = [e.NT for e in eos_points]
    lim = np.array([min(NT) / 1.5, max(NT) * 1.5])
    axes[0].loglog(lim, lim, "k-", lw=0.8, label="pV = NT")
    for protocol, mk in marks.items():
        axes[0].plot([], [], mk, mfc="none", color="C0", label=protocol)
    axes[0].set_xlabel("N T  (N = (d-1)/2)")
    axes[0].set_ylabel("p V  (measured)")
    axes[0].legend(fontsize=7)
    axes[0].set_title("d = 10, T from h/100 to h")
    x = np.arange(len(eos_rows))
    meas = np.array([r.measured.value for r in eos_rows])
    err = np.array([r.measured.se for r in eos_rows])
    axes[1].errorbar(x, 1e3 * (meas - 1), 2e3 * err, fmt="o", ms=3, label="measured (2 s.e.)")
    axes[1].plot(
        x, 1e3 * (np.array([r.discrete for r in eos_rows]) - 1), "rx", label="discrete (O(lr) term)"
    )
    axes[1].axhline(0.0, color="k", lw=0.8, label="SDE: pV = NT")
    axes[1].set_xticks(x, [r.tag for r in eos_rows], rotation=90, fontsize=6)
    axes[1].set_ylabel("1000 (pV/(NT) - 1)")
    axes[1].set_title(f"All protocols, T = h/d, effective lr = {EFFECTIVE_LR}")
    axes[1].legend(fontsize=7)
    report.figure(
        fig,
        "thermo_eos.png",
        "Equation of state pV = NT. Left: over two decades of temperature. "
        "Right: its residual, an O(lr) bias that the discrete radius/pressure maps predict.",
    )

    fig, axes = new_figure(1, 2)
    shown = [d for d in dims if d in (3, 100, 1000)] or list(dims)
    for i, d in enumerate(shown):
        base = base_runs[(d, "sphere")]
        gibbs = VonMisesFisherGibbs(d, FIELD)
        grid = np.linspace(-0.999, 0.999, 400)
        axes[0].hist(
            base.run.samples.ravel(), bins=60, density=True, histtype="step", color=f"C{i}"
        )
        axes[0].plot(
            grid,
            np.exp(gibbs.cosine_logpdf(grid, base.predicted["T"])),
            color=f"C{i}",
            lw=1,
            label=f"d = {d}",
        )
    axes[0].set_xlabel("t = <mu, w/|w|>")
    axes[0].set_ylabel("density")
    axes[0].set_title("Gibbs law: histogram (steps) vs vMF (lines)")
    axes[0].legend(fontsize=7)
    d_grid = np.unique(np.round(np.logspace(np.log10(2), 3, 30)).astype(int))
    curves = {"(U + h) / (N T)": [], "(S_dir - S_ideal) / N": []}
    for d in d_grid:
        g, T, N = VonMisesFisherGibbs(int(d), FIELD), FIELD / d, 0.5 * (d - 1)
        curves["(U + h) / (N T)"].append((g.energy(T) + FIELD) / (N * T))
        curves["(S_dir - S_ideal) / N"].append((g.entropy(T) - g.entropy(T, exact=False)) / N)
    for j, (label, ys) in enumerate(curves.items()):
        axes[1].semilogx(d_grid, ys, "-", color=f"C{j}", label=f"{label}, exact (vMF)")
        pts, errs = [], []
        for d in dims:
            run = base_runs[(d, "sphere")].run
            g, T, N = VonMisesFisherGibbs(d, FIELD), FIELD / d, 0.5 * (d - 1)
            if j == 0:
                t, t_se = run.mean("t")
                pts.append((FIELD * t + FIELD) / (N * T))
                errs.append(FIELD * t_se / (N * T))
            else:
                S, S_se = run.entropy()
                pts.append((S - g.entropy(T, exact=False)) / N)
                errs.append(S_se / N)
        axes[1].errorbar(
            dims,
            pts,
            2 * np.array(errs),
            fmt="o",
            mfc="none",
            color=f"C{j}",
            label=f"{label}, simulated",
        )
    axes[1].axhline(1.0, color="C0", ls="--", lw=0.8)
    axes[1].axhline(0.0, color="C1", ls="--", lw=0.8, label="ideal gas (dashed)")
    axes[1].set_xlabel("d  (T = h/d, Gibbs concentration kappa = d)")
    axes[1].set_title("Caloric equations vs the ideal gas")
    axes[1].legend(fontsize=6)
    report.figure(
        fig,
        "thermo_gibbs.png",
        "Left: the simulated law of the cosine vs the exact Gibbs (von Mises-Fisher) "
        "marginal. Right: energy and entropy against their ideal-gas forms U = -h + NT and "
        "S_dir = N log(2 pi e T / h), exact and simulated (2 s.e.): at T = h/d they fail as d "
        "grows.",
    )


def main(argv=None) -> int:
    """Run the job; returns the exit status (1 if a gated prediction failed)."""
    title = "Thermodynamics of scale-invariant SGD (Sadrtdinov et al. 2025)"
    quick = "small dimensions and ensembles (a few seconds)"
    return run_validation("thermo", __doc__, title, run_all, seed=2025, quick_help=quick, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
