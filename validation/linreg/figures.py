"""Figures of the main job (matplotlib, through :func:`validation.report.new_figure`).

One colour code everywhere: Gaussian-noise simulation black, minibatch simulation green,
exact discrete prediction blue (solid), SDE prediction of seed 003 red (dashed).

**Redrawing a figure from a finished run.** Every figure is drawn from a flat dict of arrays
(:mod:`.plotdata`, or the grids of the plane and phase figures), saved beside it
(``<stem>.npz``, attribute ``plotted_data`` of the returned figure). :func:`plot` redraws one
from a run's ``results.json``; restyle it with matplotlib as usual::

    from validation.linreg.figures import plot
    fig = plot("runs/linear_regression/results.json", "displacement")
    fig.axes[0].set_title("")
    fig.savefig("fig6.pdf")
"""

from __future__ import annotations

import numpy as np

from validation.report import new_figure
from validation.runs import figure_data

from .plotdata import (
    displacement_data,
    mean_trajectory_data,
    phase_data,
    plane_data,
    sweep_data,
)
from .predict import plane_cov

__all__ = [
    "plot",
    "DRAW",
    "draw_mean_trajectory",
    "draw_displacement",
    "draw_sweeps",
    "draw_plane",
    "draw_phase_portraits",
    "mean_trajectory_figure",
    "phase_portrait_figure",
    "sweep_figure",
    "displacement_figure",
    "isotropy_figure",
    "velocity_figure",
]

SIM = {
    "gaussian": ("black", "simulation, Gaussian noise"),
    "minibatch": ("tab:green", "simulation, minibatches"),
}
EXACT = dict(color="tab:blue", lw=1.6, label="exact recursion")
SDE = dict(color="tab:red", lw=1.6, ls="--", label="SDE (seed 003)")


def _beta(s) -> str:
    return f"momentum {s['momentum']:g}"


def _with_data(fig, data: dict):
    fig.plotted_data = data
    return fig


def draw_mean_trajectory(data) -> object:
    """Seed 003 Fig. 2 from :func:`.plotdata.mean_trajectory_data`: one row per momentum."""
    momenta = np.atleast_1d(data["momentum"])
    fig, axes = new_figure(len(momenta), 2, figsize=(10, 2.9 * len(momenta) + 0.8), squeeze=False)
    for n, (row, beta) in enumerate(zip(axes, momenta)):
        k = data[f"k_{n}"]
        for ax, var, name in (
            (row[0], "theta", "position $\\langle\\theta_k, q_1\\rangle$"),
            (row[1], "v", "velocity $\\langle v_k, q_1\\rangle$"),
        ):
            ax.plot(
                k, data[f"{var}_path_{n}"], color="0.7", lw=0.8, label="one path (Gaussian noise)"
            )
            for kind, (color, label) in SIM.items():
                m, se = data[f"{var}_{kind}_mean_{n}"], data[f"{var}_{kind}_se_{n}"]
                ax.fill_between(k, m - 2 * se, m + 2 * se, color=color, alpha=0.25, lw=0)
                ax.plot(k, m, color=color, lw=1.0, label=f"{label}: mean $\\pm$ 2 s.e.")
            ax.plot(k, data[f"{var}_exact_{n}"], **{**EXACT, "lw": 1.2})
            ax.plot(k, data[f"{var}_sde_{n}"], **{**SDE, "lw": 1.2, "label": "eq. 5 (SDE mean)"})
            ax.set_xlabel("step k")
            ax.set_ylabel(name)
            what = "velocity" if var == "v" else "position"
            ax.set_title(f"momentum {beta:g}: {what} on the top eigenvector q$_1$")
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8
    )
    fig.suptitle(
        f"Mean trajectory from $\\theta_0$ = 0, $v_0$ = 0 ({data['title']}; seed 003 Fig. 2)"
    )
    return _with_data(fig, dict(data))


def mean_trajectory_figure(settings, setup):
    """Seed 003 Fig. 2: <theta_k, q_1> and <v_k, q_1> against the eq. 5 mean, per momentum."""
    return draw_mean_trajectory(mean_trajectory_data(settings, setup))


def draw_phase_portraits(data):
    """Phase space (<theta - mu, q_i>, <v, q_i>) of q_1 and the low mode: samples, 95% regions,
    probability current; one row per momentum."""
    momenta = np.atleast_1d(data["momentum"])
    low = int(data["low"])
    fig, axes = new_figure(len(momenta), 2, figsize=(9, 3.8 * len(momenta)), squeeze=False)
    for n, (row, beta) in enumerate(zip(axes, momenta)):
        for col, (ax, i) in enumerate(zip(row, (0, low))):
            key = f"_{n}_{col}"
            ax.scatter(
                data["x" + key],
                data["v" + key],
                s=2,
                color="0.45",
                lw=0,
                label="paths at the last step (Gaussian noise)",
            )
            path_x, path_v = data["path_x" + key], data["path_v" + key]
            ax.plot(path_x, path_v, color="black", lw=0.6, label=f"one path, {len(path_x)} steps")
            ex, ey = data["ellipse_exact" + key]
            ax.plot(ex, ey, **{**EXACT, "label": "95% region, exact"})
            sx, sy = data["ellipse_sde" + key]
            ax.plot(sx, sy, **{**SDE, "label": "95% region, SDE"})
            gx, gy, inner = data["gx" + key], data["gy" + key], data["inner" + key]
            U, V = (np.ma.masked_where(inner, data[c + key]) for c in ("J_x", "J_v"))
            ax.streamplot(
                gx, gy, U, V, color="orange", density=0.5, linewidth=0.6, arrowsize=0.8, zorder=0
            )
            ax.ticklabel_format(style="sci", scilimits=(-3, 3))
            ax.set_xlim(gx[0], gx[-1])
            ax.set_ylim(gy[0], gy[-1])
            ax.set_xlabel(f"$\\langle\\theta - \\mu, q_{{{i + 1}}}\\rangle$")
            ax.set_ylabel(f"$\\langle v, q_{{{i + 1}}}\\rangle$")
            ax.set_title(
                f"momentum {beta:g}, q$_{{{i + 1}}}$ ($\\rho$ = {float(data['rho' + key]):.3g}); "
                "orange: current $J_{ss}$",
                fontsize=9,
            )
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8
    )
    fig.suptitle(
        "Phase-space portraits: stationary law and probability current (seed 003 eq. 8, Fig. 5)"
    )
    return _with_data(fig, dict(data))


def phase_portrait_figure(settings, setup):
    """Phase space of q_1 and the low mode per momentum: samples, 95% regions, current."""
    return draw_phase_portraits(phase_data(settings, setup))


def draw_sweeps(data):
    """Seed 003 Fig. 6 from :func:`.plotdata.sweep_data`: speed, its deviation from the exact
    value and the fitted exponent c, one column per swept hyperparameter."""
    labels = {"lr": "learning rate", "batch_size": "batch size", "momentum": "momentum"}
    axes_names = [str(a) for a in np.atleast_1d(data["axes"])]
    fit_steps = int(data["fit_steps"])
    fig, axes = new_figure(3, len(axes_names), figsize=(4.3 * len(axes_names), 9.6), squeeze=False)
    for col, axis in enumerate(axes_names):
        x = data[f"{axis}_x"]
        ex_speed = data[f"{axis}_speed_exact"]
        rows = (
            ("speed", 1.0, "speed E$\\|\\theta_{k+1}-\\theta_k\\|^2$"),
            ("speed", ex_speed, "speed / exact prediction - 1 (%)"),
            ("exponent", 1.0, f"exponent c (fit on steps {fit_steps // 3 + 1}-{fit_steps})"),
        )
        for row, (q, norm, ylabel) in enumerate(rows):
            ax = axes[row, col]
            rel = row == 1

            def tr(y, rel=rel, norm=norm):
                return 100.0 * (np.asarray(y) / norm - 1.0) if rel else np.asarray(y)

            ax.plot(x, tr(data[f"{axis}_{q}_exact"]), marker=".", **EXACT)
            ax.plot(
                x,
                tr(data[f"{axis}_{q}_sde"]),
                marker=".",
                **{**SDE, "label": "SDE (eq. 12)" if q == "speed" else SDE["label"]},
            )
            for n, (kind, (color, label)) in enumerate(SIM.items()):
                shift = 1.0 + 0.03 * (n - 0.5) if axis != "momentum" else 1.0
                scale = 100.0 / norm if rel else 1.0
                ax.errorbar(
                    x * shift,
                    tr(data[f"{axis}_{q}_{kind}"]),
                    yerr=2 * data[f"{axis}_{q}_{kind}_se"] * scale,
                    fmt="o",
                    ms=3,
                    color=color,
                    capsize=2,
                    label=f"{label} ($\\pm$ 2 s.e.)",
                )
            if axis != "momentum":
                ax.set_xscale("log", base=2)
            if row == 0 and axis != "momentum":
                ax.set_yscale("log")
            if row == 2:
                ax.axhline(1.0, color="0.5", ls=":", lw=1)
            ax.set_xlabel(labels[axis])
            ax.set_ylabel(ylabel)
        axes[0, col].set_title(f"varying {labels[axis]}")
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8
    )
    fig.suptitle(
        f"Sweeps around {data['base']}: stationary speed and diffusion exponent (seed 003 Fig. 6)"
    )
    return _with_data(fig, dict(data))


def sweep_figure(sweeps, setup):
    """Seed 003 Fig. 6: speed, its deviation from the exact value and the fitted exponent c."""
    return draw_sweeps(sweep_data(sweeps, setup))


def draw_displacement(data) -> object:
    """Seed 003 Fig. 6 bottom / Fig. 7 from :func:`.plotdata.displacement_data`."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    momenta = np.atleast_1d(data["momentum"])
    fig, axes = new_figure(1, 2, figsize=(11, 4.6))
    ax, bx = axes
    styles = ("-", "-.", ":")
    for n_s in range(len(momenta)):
        ls = styles[n_s % len(styles)]
        k = data[f"steps_{n_s}"]
        for kind in SIM:
            ax.plot(k, data[f"{kind}_mean_{n_s}"], color=SIM[kind][0], lw=1.2, ls=ls)
        ax.plot(k, data[f"exact_{n_s}"], color=EXACT["color"], lw=1.0, ls=ls)
        ax.plot(k, data[f"sde_{n_s}"], color=SDE["color"], lw=1.0, ls=ls)
        ax.plot(k, data[f"eq13_{n_s}"], color="tab:purple", lw=0.8, ls=ls, zorder=1)
        L = data[f"lengths_{n_s}"]
        for n, kind in enumerate(SIM):
            bx.errorbar(
                L * (1.0 + 0.03 * (n - 0.5)),
                data[f"exponent_{kind}_{n_s}"],
                yerr=2 * data[f"exponent_{kind}_se_{n_s}"],
                fmt="os^"[n_s % 3],
                ms=3,
                color=SIM[kind][0],
                capsize=2,
                ls="none",
            )
        bx.plot(L, data[f"exponent_exact_{n_s}"], color=EXACT["color"], lw=1.2, ls=ls, marker=".")
        bx.plot(L, data[f"exponent_sde_{n_s}"], color=SDE["color"], lw=1.0, ls=ls, marker=".")
    sources = [Line2D([], [], color=c, label=lab) for c, lab in SIM.values()] + [
        Line2D([], [], color=EXACT["color"], label="exact recursion"),
        Line2D([], [], color=SDE["color"], label="SDE (seed 003 eq. 4)"),
        Line2D([], [], color="tab:purple", label="paper's eq. 13 (left only)"),
    ]
    legend_momenta = [
        Line2D(
            [],
            [],
            color="0.3",
            ls=styles[i % len(styles)],
            marker="os^"[i % 3],
            ms=3,
            label=f"momentum {beta:g}",
        )
        for i, beta in enumerate(momenta)
    ]
    ax.legend(handles=sources + legend_momenta, fontsize=7, loc="lower right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("lag k (steps)")
    ax.set_ylabel("E$\\|\\theta_k - \\theta_0\\|^2$ from stationarity")
    ax.set_title("global displacement (Fig. 6 bottom)")
    bx.set_xscale("log")
    bx.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    bx.xaxis.set_major_formatter(ScalarFormatter())
    bx.xaxis.set_minor_formatter(NullFormatter())
    bx.axhline(1.0, color="0.5", ls=":", lw=1)
    bx.set_xlabel("trajectory length n fitted (steps)")
    bx.set_ylabel("exponent c fitted on steps n/3 .. n")
    bx.set_title("exponent vs trajectory length (Fig. 7); bars: 2 s.e.")
    return _with_data(fig, dict(data))


def displacement_figure(settings):
    """Seed 003 Fig. 6 bottom / Fig. 7: E||Delta_k||^2 on log-log, fitted c vs trajectory length."""
    return draw_displacement(displacement_data(settings))


def _contours(ax, X, Y, Z, color):
    levels = np.quantile(Z, np.linspace(0.0, 1.0, 11))[1:-1]
    ax.contour(X, Y, Z, levels=levels, colors=color, linewidths=0.8)


def draw_plane(data):
    """Two panels of samples on (q_1, q_low) over two quadratic forms' contours: all paths at
    the last step, one path and the exact 95% region (the isotropy and velocity figures)."""
    equal, low, h = bool(data["equal"]), int(data["low"]), data["limits"]
    fig, axes = new_figure(1, 2, figsize=(9, 4.6 if equal else 4.2))
    last, path = data["last"], data["path"]
    sym = "\\theta - \\mu" if str(data["var"]) == "theta" else "v"
    for n, ax in enumerate(axes):
        _contours(ax, data["X"], data["Y"], data[f"Z_{n}"], str(data[f"color_{n}"]))
        ax.scatter(
            last[:, 0], last[:, 1], s=2, color="0.45", lw=0, label="all paths at the last step"
        )
        ax.plot(path[:, 0], path[:, 1], color="black", lw=0.5, label=f"one path, {len(path)} steps")
        ex, ey = data["ellipse"]
        ax.plot(ex, ey, **{**EXACT, "label": "95% region, exact"})
        ax.ticklabel_format(style="sci", scilimits=(-3, 3))
        if equal:
            ax.set_aspect("equal")
        ax.set_xlim(-h[0], h[0])
        ax.set_ylim(-h[1], h[1])
        ax.set_xlabel(f"$\\langle {sym}, q_1\\rangle$")
        ax.set_ylabel(f"$\\langle {sym}, q_{{{low + 1}}}\\rangle$")
        ax.set_title(str(data[f"title_{n}"]), fontsize=10)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(str(data["suptitle"]), fontsize=10)
    return _with_data(fig, dict(data))


def isotropy_figure(s, setup):
    """Seed 003 Fig. 3: the position on (q_1, q_low) over the training and the modified loss."""
    sgd, low = s["model"], setup.low_mode
    P = np.linalg.inv(plane_cov(sgd, 0, low, exact=False, plane="theta"))
    forms = (
        (
            lambda X, Y: 0.5 * (sgd.rho[0] * X**2 + sgd.rho[low] * Y**2),
            "tab:cyan",
            "contours: training loss $L(\\theta) - L(\\mu)$",
        ),
        (
            lambda X, Y: 0.5 * (P[0, 0] * X**2 + 2 * P[0, 1] * X * Y + P[1, 1] * Y**2),
            "tab:cyan",
            "contours: modified loss $\\kappa\\Psi_\\theta$ (SDE, eq. 10)",
        ),
    )
    r = s["measured"]["gaussian"]["isotropy"]
    title = (
        f"Position at stationarity, {_beta(s)} (Fig. 3): Var q$_{{{low + 1}}}$ / Var q$_1$ = "
        f"{r.value:.3f} "
        f"$\\pm$ {r.stderr:.3f} (training loss's Gibbs law: {sgd.rho[0] / sgd.rho[low]:.1f})"
    )
    return draw_plane(plane_data(s, setup, "theta", forms, equal=True, n_path=300, suptitle=title))


def velocity_figure(s, setup):
    """Seed 003 Fig. 4: the velocity on (q_1, q_low): inverse-Hessian contours of Psi_v."""
    sgd, low = s["model"], setup.low_mode
    forms = (
        (
            lambda X, Y: 0.5 * (X**2 / sgd.rho[0] + Y**2 / sgd.rho[low]),
            "tab:purple",
            "contours of $v^T H^{-1} v$ ($\\Psi_v$, eq. 46)",
        ),
        (
            lambda X, Y: 0.5 * (sgd.rho[0] * X**2 + sgd.rho[low] * Y**2),
            "0.5",
            "contours of $v^T H v$ (training-loss curvature)",
        ),
    )
    r = s["measured"]["gaussian"]["velocity_shape"]
    title = (
        f"Velocity at stationarity, {_beta(s)} (Fig. 4; axes scaled separately): "
        f"Var q$_{{{low + 1}}}$ / "
        f"Var q$_1$ = {r.value:.4f} $\\pm$ {r.stderr:.4f}, $\\rho_{{{low + 1}}}/\\rho_1$ = "
        f"{sgd.rho[low] / sgd.rho[0]:.4f}"
    )
    return draw_plane(plane_data(s, setup, "v", forms, equal=False, n_path=100, suptitle=title))


#: Figure stem -> function drawing it from its saved arrays (the figures :func:`plot` redraws).
DRAW = {
    "mean_trajectory": draw_mean_trajectory,
    "displacement": draw_displacement,
    "sweeps": draw_sweeps,
    "isotropy": draw_plane,
    "phase_portraits": draw_phase_portraits,
    "velocity": draw_plane,
}


def plot(results_json, name: str):
    """Redraw figure ``name`` (e.g. ``"displacement"``) of a finished run from its results.json.

    Loads the arrays saved beside the figure (checked to be from the same run) and draws them
    with the function in :data:`DRAW`; returns the matplotlib figure, ready to restyle.
    """
    stem = name.rsplit(".", 1)[0]
    if stem not in DRAW:
        raise KeyError(f"no drawing function for figure {name!r}; redrawable: {sorted(DRAW)}")
    return DRAW[stem](figure_data(results_json, stem))
