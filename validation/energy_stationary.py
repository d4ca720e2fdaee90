"""Seed 000 at stationarity: the drift's slope up to the stability limit, its band, and the zoo.

The stationary parts of ``python -m validation.energy_drift``: the exact stationary median of
|Delta H| (``dynlab.energy_band``) on grids that end at 0.999 of the exact stability limit, its
slope by centred differences, in all three noise modes, on the regression problem, over a random
scan of quadratics and over (omega dt, gamma / omega) in 1-D (the map); and the zoo's
``damped_leapfrog`` against one negative secant slope.
"""

from __future__ import annotations

import numpy as np

from dynlab.energy import NOISE_MODES, LeapfrogQuadratic
from dynlab.energy_band import band_closing_ratio, stationary_slopes
from dynlab.integrators import Recording, run
from dynlab.models import QuadraticProblem
from dynlab.progress import progress
from validation.report import Report, new_figure

#: Frictions of the regression scan: the seed's 1e-3 and two larger ones.
REGRESSION_GAMMAS = (1e-3, 0.1, 1.0)
#: The Monte Carlo secant: 1-D, gamma / omega = 0.05, "step" noise, omega dt = 1.88 -> 1.95
#: (inside the band, whose exact slope there is about -5).
SECANT = dict(gamma=0.05, x=(1.88, 1.95))
#: Relaxation of the Monte Carlo paths from rest: this many e-folds of the slowest mode.
E_FOLDS = 20.0
#: Relative step of the centred difference for the density of |Delta H| at its median (the
#: median's standard error); the CDF is exact to 1e-10, so 1e-4 leaves a 1e-6 error.
DENSITY_STEP = 1e-4


def _unit_mode() -> QuadraticProblem:
    """One mode, omega = 1, unit noise: the slope depends only on (omega dt, gamma / omega)."""
    return QuadraticProblem(np.eye(1), noise_cov=np.eye(1))


def _summary(s) -> dict:
    return dict(
        x=s.x.tolist(),
        slope=s.slope.tolist(),
        drift=s.drift.tolist(),
        limit=s.limit,
        band=s.band,
        min_slope=s.min_slope,
        argmin=s.argmin,
    )


def regression_scan(report: Report, quad, inv_mass, batch: int, quick: bool) -> dict:
    """Stationary slopes on the regression problem, three frictions, three noise modes."""
    out, rows = {}, []
    grid = dict(n_runup=4, n_dense=8) if quick else dict(n_runup=8, n_dense=32)
    cases = [(g, mode) for g in REGRESSION_GAMMAS for mode in NOISE_MODES]
    for gamma, mode in progress(cases, desc="regression, stationary"):
        s = stationary_slopes(
            quad, gamma=gamma, noise=mode, inv_mass=inv_mass, batch_size=batch, **grid
        )
        out[f"{gamma:g} {mode}"] = _summary(s)
        band = "none" if s.band is None else f"[{s.band[0]:.4f}, {s.band[1]:.4f}]"
        rows.append([f"{gamma:g}", mode, s.limit, band, s.min_slope, s.argmin])
    report.section(
        "Stationarity: the regression problem (exact)",
        "Stationary median |Delta H| against omega_max dt up to 0.999 of the stability limit "
        "(slope by centred differences; band edges and minimum refined between grid points).",
    )
    report.table(
        [
            "gamma",
            "noise",
            "limit (omega_max dt)",
            "band slope < 0 (omega_max dt)",
            "min slope",
            "at",
        ],
        rows,
    )
    report.value("stationary_regression", out)
    return out


def random_scan(report: Report, quick: bool, seed: int) -> list[dict]:
    """Stationary slopes over random quadratics, every configuration in all three modes."""
    rng = np.random.default_rng(seed)
    grid = dict(n_runup=3, n_dense=6) if quick else dict(n_runup=6, n_dense=16)
    scan = []
    n_cfg = 3 if quick else 40
    for _ in progress(range(n_cfg), desc="random quadratics"):
        d = int(rng.choice([1, 2, 4]))
        Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        rho = np.concatenate([[1.0], 10.0 ** rng.uniform(-3, 0, d - 1)])
        G = rng.standard_normal((d, d))
        prob = QuadraticProblem(
            (Q * rho) @ Q.T, rng.standard_normal(d), noise_cov=G @ G.T / d + 1e-3 * np.eye(d)
        )
        gamma = float(10 ** rng.uniform(-3, 1))
        minv = 10 ** rng.uniform(np.log10(1 / 8), np.log10(8), d)
        for mode in NOISE_MODES:
            s = stationary_slopes(prob, gamma=gamma, noise=mode, inv_mass=minv, **grid)
            scan.append(dict(d=d, gamma_w=gamma / s.omega, noise=mode, **_summary(s)))
    rows = []
    for mode in NOISE_MODES:
        runs = [r for r in scan if r["noise"] == mode]
        banded = [r for r in runs if r["band"] is not None]
        rows.append(
            [
                mode,
                f"{len(banded)} of {len(runs)}",
                max((r["gamma_w"] for r in banded), default=float("nan")),
                min(r["gamma_w"] for r in runs if r["band"] is None)
                if len(banded) < len(runs)
                else float("nan"),
                min(r["min_slope"] for r in runs),
            ]
        )
    report.section(
        "Stationarity: random quadratics (exact)",
        f"{n_cfg} random quadratics (d = 1, 2, 4; condition numbers up to 1e3; friction 1e-3..10; "
        "diagonal masses 1/8..8), each in all three noise modes, omega_max dt from "
        "1e-2 to 0.999 of the stability limit.",
    )
    report.table(
        [
            "noise",
            "configurations with slope < 0",
            "largest gamma/omega_max with a band",
            "smallest gamma/omega_max without",
            "min slope",
        ],
        rows,
    )
    report.value("stationary_scan", scan)
    return scan


def band_map(report: Report, quick: bool) -> dict:
    """1-D: the slope over (omega dt, gamma / omega) per noise mode, band edges and depth."""
    ratios = np.geomspace(1e-3, 3.0, 8 if quick else 20)
    grid = dict(n_runup=4, n_dense=8) if quick else dict(n_runup=8, n_dense=24)
    out = {}
    for mode in NOISE_MODES:
        rows = [
            _summary(stationary_slopes(_unit_mode(), gamma=g, noise=mode, **grid))
            for g in progress(ratios, desc=f"map, {mode}")
        ]
        out[mode] = dict(ratio=ratios.tolist(), rows=rows)
    closing = band_closing_ratio("step", n_runup=1, n_dense=grid["n_dense"])
    report.section(
        "The band in 1-D (exact)",
        "One mode; the slope depends only on omega dt and gamma / omega. Band: the omega dt "
        "where the stationary slope is negative (grid up to 0.999 of the limit).",
    )
    table = []
    for mode in NOISE_MODES:
        for g, r in zip(ratios, out[mode]["rows"]):
            if mode == "step" or g == ratios[0]:
                band = "none" if r["band"] is None else f"[{r['band'][0]:.4f}, {r['band'][1]:.4f}]"
                table.append([mode, g, r["limit"], band, r["min_slope"], r["argmin"]])
    report.table(["noise", "gamma/omega", "limit (omega dt)", "band", "min slope", "at"], table)
    mins = {m: min(r["min_slope"] for r in out[m]["rows"]) for m in NOISE_MODES}
    report.text(
        f"Band closing in 1-D ('step'): gamma/omega = {closing:.4f} (root of the minimum slope). "
        + "; ".join(f"min slope over the map, '{m}': {v:.3f}" for m, v in mins.items())
        + "."
    )
    report.value("band_closing_ratio", closing)
    report.value("map_min_slope", mins)
    report.value("band_map_1d", out)
    out["closing"] = closing
    return out


def _median_and_density(law):
    """Exact median of |Delta H| and the density of |Delta H| there (centred difference)."""
    med = law.abs_quantile()
    e = DENSITY_STEP * med
    return med, (law.abs_cdf(med + e) - law.abs_cdf(med - e)) / (2.0 * e)


def zoo_stationary_delta_h(prob, lf: LeapfrogQuadratic, n_paths: int, seed: int, **kw):
    """Delta H of the last step of independent ``damped_leapfrog`` paths run from rest.

    ``E_FOLDS`` e-folds of the slowest mode of ``lf`` (whose dt and gamma the zoo uses);
    ``kw`` go to the zoo (inv_mass, batch_size).
    """
    n_steps = int(np.ceil(E_FOLDS / (1.0 - lf.spectral_radius)))
    rec = run(
        "damped_leapfrog",
        prob,
        n_paths=n_paths,
        n_steps=n_steps,
        record=Recording(every=n_steps),
        seed=seed,
        dt=float(lf.dt),
        friction=lf.gamma,
        **kw,
    )
    return rec.energy_change[-1]


def predict_below_median(report: Report, name: str, dH, med: float, note: str) -> None:
    """Exact prediction: the fraction of independent |Delta H| below the exact median is 1/2."""
    ind = np.abs(dH) <= med
    report.predict(
        name, 0.5, ind.mean(), ind.std(ddof=1) / np.sqrt(ind.size), exact=True, note=note
    )


def secant_check(report: Report, n_paths: int, seed: int) -> dict:
    """One negative secant slope of the exact stationary drift against the zoo (1-D, "step")."""
    gamma, xs = SECANT["gamma"], SECANT["x"]
    rng = np.random.default_rng(seed)
    exact, measured, rel_se = [], [], []
    for x in xs:
        lf = LeapfrogQuadratic(_unit_mode(), dt=x, gamma=gamma, noise="step")
        law = lf.delta_h_law(*lf.stationary())
        med, dens = _median_and_density(law)
        dH = np.abs(zoo_stationary_delta_h(_unit_mode(), lf, n_paths, int(rng.integers(2**31))))
        predict_below_median(
            report,
            f"P(abs dH <= exact stationary median) [1-D, gamma/omega={gamma:g}, omega dt={x:g}]",
            dH,
            med,
            note="exact law, in the band",
        )
        exact.append(med)
        measured.append(float(np.median(dH)))
        # the sample median's standard error: sqrt(q (1 - q) / n) / density at the median
        rel_se.append(np.sqrt(0.25 / n_paths) / dens / med)
    span = np.log(xs[1] / xs[0])
    s_exact = np.log(exact[1] / exact[0]) / span
    s_mc = np.log(measured[1] / measured[0]) / span
    se = np.hypot(*rel_se) / span
    report.predict(
        f"secant slope, omega dt {xs[0]:g} -> {xs[1]:g} [1-D, gamma/omega={gamma:g}, 'step']",
        s_exact,
        s_mc,
        se,
        exact=True,
        note="exact law; sample medians of independent paths",
    )
    report.text(
        f"Monte Carlo secant (zoo's damped_leapfrog, {n_paths} independent paths per dt, relaxed "
        f"{E_FOLDS:g} e-folds from rest): {s_mc:.3f} +- {se:.3f} against the exact {s_exact:.3f}; "
        f"negative by {-s_mc / se:.1f} standard errors."
    )
    out = dict(exact=s_exact, measured=s_mc, stderr=se, n_paths=n_paths)
    report.value("secant", out)
    return out


def figures(report: Report, reg: dict, scan: list[dict], bmap: dict) -> None:
    """energy_stationary.png (regression and random scan) and energy_band_map.png (1-D map)."""
    from matplotlib.colors import ListedColormap

    fig, axes = new_figure(1, 2)
    for j, gamma in enumerate(REGRESSION_GAMMAS):
        c = reg[f"{gamma:g} step"]
        axes[0].loglog(c["x"], c["drift"], "-", color=f"C{j}", label=f"gamma = {gamma:g}")
        axes[0].axvline(c["limit"], color=f"C{j}", lw=0.6, ls=":")
    axes[0].set_xlabel("omega_max dt (dotted: stability limits)")
    axes[0].set_ylabel("stationary median |Delta H|")
    axes[0].legend(fontsize=7)
    axes[0].set_title("Linear regression, stationary, batch 128, 'step'", fontsize=9)
    for j, mode in enumerate(NOISE_MODES):
        for k, s in enumerate(r for r in scan if r["noise"] == mode):
            axes[1].plot(
                np.array(s["x"]) / s["limit"],
                s["slope"],
                "-",
                color=f"C{j}",
                lw=0.6,
                alpha=0.6,
                label=mode if k == 0 else None,
            )
    axes[1].set_xscale("log")
    axes[1].set_yscale("symlog", linthresh=2.0)
    axes[1].axhline(1.5, color="k", ls="--", lw=0.8, label="3/2 (dt -> 0)")
    axes[1].axhline(0.0, color="r", lw=0.8)
    axes[1].set_xlabel("dt / stability limit")
    axes[1].set_ylabel("local log-log slope (symlog)")
    mins = {m: min(r["min_slope"] for r in scan if r["noise"] == m) for m in NOISE_MODES}
    axes[1].set_title(
        "Random scan, min slope: " + ", ".join(f"{m} {v:.3g}" for m, v in mins.items()),
        fontsize=8,
    )
    axes[1].legend(fontsize=7)
    report.figure(
        fig,
        "energy_stationary.png",
        "Exact stationary drift up to 0.999 of the stability limit. Left: linear regression, "
        "three frictions ('step' noise). Right: local log-log slope over the random scan in the "
        "three noise modes: 3/2 at small dt; only 'step' goes negative, next to the limit.",
    )

    fig, axes = new_figure(1, 4, figsize=(16, 3.8))
    cmap = ListedColormap(["#c0392b", "#dde6f2"])
    for ax, mode in zip(axes, NOISE_MODES):
        m = bmap[mode]
        X = np.array([r["x"] for r in m["rows"]])
        Y = np.repeat(np.array(m["ratio"])[:, None], X.shape[1], axis=1)
        S = np.array([r["slope"] for r in m["rows"]])
        ax.pcolormesh(X, Y, (S >= 0).astype(float), shading="nearest", cmap=cmap, vmin=0, vmax=1)
        ax.plot([r["limit"] for r in m["rows"]], m["ratio"], "k-", lw=1.0, label="limit")
        banded = [(g, r["band"]) for g, r in zip(m["ratio"], m["rows"]) if r["band"]]
        if banded:
            g, b = zip(*banded)
            ax.plot([e[0] for e in b], g, "k--", lw=1.0, label="band edges")
            ax.plot([e[1] for e in b], g, "k--", lw=1.0)
            ax.axhline(bmap["closing"], color="k", ls=":", lw=0.8, label="closing")
        ax.set_xlim(1.0, 2.0)
        ax.set_yscale("log")
        ax.set_xlabel("omega dt")
        ax.set_ylabel("gamma / omega")
        ax.set_title(f"'{mode}': slope < 0 in red", fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
    ax = axes[3]
    rows = bmap["step"]["rows"]
    g = np.array([r for r, row in zip(bmap["step"]["ratio"], rows) if row["min_slope"] < 0])
    depth = np.array([-row["min_slope"] for row in rows if row["min_slope"] < 0])
    ax.loglog(g, depth, "o-", ms=3, color="C3", label="'step': -(min slope)")
    ax.axvline(bmap["closing"], color="k", ls=":", lw=0.8, label="closing")
    ax.set_xlabel("gamma / omega")
    ax.set_ylabel("band depth -(min slope)")
    ax.set_title("Depth of the band (1-D, 'step')", fontsize=9)
    ax.legend(fontsize=7)
    report.figure(
        fig,
        "energy_band_map.png",
        "Sign of the exact stationary slope over (omega dt, gamma / omega), one mode, per noise "
        f"mode (solid: stability limit; dashed: band edges; dotted: the band closes at "
        f"gamma/omega = {bmap['closing']:.3f}). Right: the band's depth in 'step' mode. "
        "'kick' and 'fsal' have no band.",
    )
