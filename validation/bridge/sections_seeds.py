"""Report sections of seeds 000 and 001: energy drift, broken conservation laws.

The conservation laws are dynlab's (:func:`dynlab.symmetry.discrete_law` for the exact
recursions, :func:`dynlab.symmetry.gradient_flow_law` and
:func:`dynlab.symmetry.modified_flow_law` for seed 001's continuous laws); this module only
applies them to each measured component. No torch import.
"""

from __future__ import annotations

import numpy as np

from dynlab.hyper import HeavyBall
from dynlab.observables import ensemble_mean_sem, ols_loglog, tail_median_abs
from dynlab.symmetry import discrete_law, gradient_flow_law, modified_flow_law
from validation.report import new_figure

from . import analysis as an
from .analysis import delta_H
from .records import as_numpy as _np
from .sections_modes import run_numpy as _run_np
from .settings import energy_grids

__all__ = ["energy", "conservation", "edge_ratio"]


def translation_exact(s0, steps: int, *, lr, momentum, weight_decay) -> np.ndarray:
    """Exact column sums s_k (k = 0..steps, from rest), one dynlab law per component."""
    hp = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, n_steps=steps)
    return np.stack([discrete_law("translation", q, **hp) for q in np.ravel(s0)], axis=1)


def translation_seed(s0, steps: int, *, lr, momentum, weight_decay) -> np.ndarray:
    """Seed 001's ``e^{-lambda t} s(0)`` with ``t = lr k / (1 - momentum)`` (momentum speeds time
    up by ``1 / (1 - beta)``), per component."""
    t = lr * np.arange(steps + 1) / (1.0 - momentum)
    return np.stack(
        [gradient_flow_law("translation", q, t, weight_decay=weight_decay) for q in np.ravel(s0)],
        axis=1,
    )


def scale_exact(a0, vv, *, lr, momentum, weight_decay) -> np.ndarray:
    """Exact |theta_A|^2 per layer driven by the measured ``vv[k] = |v_{k+1}|^2`` (K, layers)."""
    hp = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
    vv = np.asarray(vv, dtype=float)
    return np.stack(
        [discrete_law("scale", q, kinetic=vv[:, j], **hp) for j, q in enumerate(np.ravel(a0))],
        axis=1,
    )


def scale_seed(a0, gg, *, lr, weight_decay) -> np.ndarray:
    """Seed 001's continuous scale law (plain SGD) driven by the measured ``gg[k] = |g_k|^2``,
    ``t = lr k`` (dynlab's modified flow; the drive is held at its last value on the last step)."""
    gg = np.asarray(gg, dtype=float)
    t = lr * np.arange(len(gg) + 1)
    G = np.vstack([gg, gg[-1:]])
    return np.stack(
        [
            modified_flow_law("scale", q, t, lr=lr, weight_decay=weight_decay, grad_sq=G[:, j])
            for j, q in enumerate(np.ravel(a0))
        ],
        axis=1,
    )


def edge_ratio(method: str, steps, a, rho_1):
    """``lr rho_1 / (2 (1 + beta))`` at each step size: 1 at heavy ball's edge of stability.

    SGD-momentum: ``lr`` and ``momentum`` of the grid. Damped leapfrog maps onto heavy ball with
    ``lr = dt^2`` and ``beta = e^{-gamma dt}`` (unit mass: the layer-wise mass preconditioning is
    not included). None for AdamW or without a Hessian phase.
    """
    if rho_1 is None or method == "adamw":
        return None
    steps = np.asarray(steps, dtype=float)
    if method == "sgd":
        hp = HeavyBall(lr=steps, momentum=a.momentum)
    else:
        hp = HeavyBall(lr=steps**2, momentum=np.exp(-a.damping * steps))
    return hp.lr * rho_1 / hp.stability_limit


def energy(rep, res, a) -> dict:
    en = res["energy"]
    rho_1 = float(_np(res["hessian"]["rho"])[0]) if "hessian" in res else None
    rep.section(
        "Energy drift (seed 000: Table 1, Figs. 1-3)",
        f"Tail-median |Delta H| (last 20% of {a.energy_steps} steps, batch {a.energy_batch_size}, "
        f"{a.energy_seeds} seeds, init: {a.energy_init}) vs step size, OLS of log10 drift on "
        "log10 step "
        "across the grid (seed means), 95% intervals. 'consecutive': H_{t+1} - H_t, each on its "
        "own batch "
        "(what a training loop logs); 'same-batch': the change of the one Hamiltonian a step "
        "integrates. "
        "First-order methods: K = ‖theta_{t+1} - theta_t‖^2 / (2 lr) (our convention). "
        "Next to each slope: lr rho_1 / (2 (1 + beta)) over the grid, how close the step sizes sit "
        "to the edge of stability (1), with rho_1 the top Hessian eigenvalue at theta* (the "
        "runs start from "
        + ("theta*" if a.energy_init == "pretrained" else "a fresh network")
        + ").",
    )
    rows, table, fig_data = [], {}, {}
    for grid, (method, steps) in energy_grids(a).items():
        for kind in ("consecutive", "same_batch"):
            drift = np.array(
                [
                    [
                        tail_median_abs(
                            delta_H(_run_np(en[f"energy_{grid}_{i}_{s}"]))[kind], tail=0.2
                        )
                        for s in range(a.energy_seeds)
                    ]
                    for i in range(len(steps))
                ]
            )
            mean, sem = ensemble_mean_sem(drift, axis=1)
            fit = ols_loglog(steps, mean, level=0.95)
            table[f"{grid}/{kind}"] = {
                "steps": steps,
                "drift": drift,
                "slope": fit.slope,
                "stderr": fit.stderr,
                "ci": [fit.ci_low, fit.ci_high],
            }
            edge = edge_ratio(method, steps, a, rho_1)
            table[f"{grid}/{kind}"]["edge_ratio"] = edge
            rows.append(
                [
                    grid,
                    method,
                    kind,
                    f"[{steps[0]:.3g}, {steps[-1]:.3g}]",
                    fit.slope,
                    f"[{fit.ci_low:+.3f}, {fit.ci_high:+.3f}]",
                    "n/a" if edge is None else f"[{edge[0]:.3g}, {edge[-1]:.3g}]",
                    mean[0],
                    mean[-1],
                ]
            )
            fig_data[(grid, kind)] = (steps, mean, sem)
        cap = np.array(
            [
                [_np(en[f"energy_{grid}_{i}_{s}"]["capped"]).mean() for s in range(a.energy_seeds)]
                for i in range(len(steps))
            ]
        )
        cm, ch = an.t_interval(cap, axis=1)
        table[f"{grid}/cap"] = {"mean": cm, "ci_half": ch}
    rep.table(
        [
            "grid",
            "method",
            "Delta H",
            "step range",
            "slope",
            "95% CI",
            "lr rho_1 / (2 (1 + beta))",
            "drift at first step",
            "at last step",
        ],
        rows,
    )
    rt = {m: en[f"roundtrip_{m}"]["error"] for m in ("leapfrog", "euler")}
    rep.text(
        f"Reversibility (Fig. 2), {en['roundtrip_leapfrog']['steps']} steps forward and back at "
        "dt = "
        f"{en['roundtrip_leapfrog']['dt']:.3g}: normalized round-trip error leapfrog (undamped) "
        f"{rt['leapfrog']:.3g}, explicit Euler {rt['euler']:.3g} "
        f"({np.log10(rt['euler'] / max(rt['leapfrog'], 1e-300)):.1f} orders of magnitude)."
    )
    capped = {
        g: float(np.max(table[f"{g}/cap"]["mean"])) for g in ("leapfrog_band", "leapfrog_wide")
    }
    rep.text(
        "Cap engagement (fraction of steps, max over the grid): canonical band "
        f"{capped['leapfrog_band']:.3f}, "
        f"wide band {capped['leapfrog_wide']:.3f}."
    )
    fig, ax = new_figure(1, 3)
    for j, kind in enumerate(("consecutive", "same_batch")):
        for grid in energy_grids(a):
            s, mean, sem = fig_data[(grid, kind)]
            ax[j].errorbar(
                s,
                mean,
                yerr=sem,
                fmt="o-",
                ms=3,
                label=f"{grid} ({table[f'{grid}/{kind}']['slope']:+.2f})",
            )
        ax[j].set(
            xscale="log",
            yscale="log",
            xlabel="dt or lr",
            ylabel="tail-median |Delta H| (nats)",
            title=f"{kind} Delta H",
        )
        ax[j].legend(fontsize=6)
    for grid in ("leapfrog_band", "leapfrog_wide"):
        s = energy_grids(a)[grid][1]
        ax[2].errorbar(
            s,
            table[f"{grid}/cap"]["mean"],
            yerr=table[f"{grid}/cap"]["ci_half"],
            fmt="o-",
            label=grid,
        )
    ax[2].set(
        xscale="log", xlabel="dt", ylabel="cap engagement (fraction)", title="energy cap (Fig. 3)"
    )
    ax[2].legend(fontsize=7)
    rep.figure(
        fig,
        "energy.png",
        "Tail-median energy drift vs step size (slopes in the legend) and cap engagement.",
    )
    rep.value("energy", {"table": table, "roundtrip": rt, "rho_1": rho_1})
    return {
        "slope_band_consecutive": table["leapfrog_band/consecutive"]["slope"],
        "slope_band_same_batch": table["leapfrog_band/same_batch"]["slope"],
        "slope_wide_consecutive": table["leapfrog_wide/consecutive"]["slope"],
        "slope_sgd_consecutive": table["sgd/consecutive"]["slope"],
        "slope_adamw_consecutive": table["adamw/consecutive"]["slope"],
        "roundtrip_leapfrog": rt["leapfrog"],
        "roundtrip_euler": rt["euler"],
        "cap_band_max": capped["leapfrog_band"],
    }


def conservation(rep, res, a) -> dict:
    c = _run_np(res["conservation"])
    hp = dict(
        lr=a.conservation_lr,
        momentum=a.conservation_momentum,
        weight_decay=a.conservation_weight_decay,
    )
    K = len(c["a"])
    s = c["colsum"]
    s_exact = translation_exact(s[0], K, **hp)
    s_seed = translation_seed(s[0], K, **hp)
    norm0 = np.linalg.norm(s[0])
    err_exact = np.abs(s - s_exact).max() / np.abs(s[0]).max()
    err_seed = np.abs(s - s_seed).max() / np.abs(s[0]).max()
    b = c["biassum"]
    b_exact = translation_exact(b[:1], K, **hp)[:, 0]
    a_meas = np.vstack([c["a"], c["a_end"][None, :]])
    a_exact = scale_exact(c["a"][0], c["vv"], **hp)
    rel_exact = np.abs(a_meas - a_exact).max(0) / a_meas[0]
    cos = np.abs(c["tg"]) / np.sqrt(c["a"] * c["gg"])
    rep.section(
        "Broken conservation laws (seed 001)",
        f"Heavy-ball SGD from theta* (lr {hp['lr']:g}, momentum {hp['momentum']:g}, weight decay "
        f"{hp['weight_decay']:g}, {K} steps, float32). Translation: column sums s = 1^T W of the "
        "final layer "
        "against the exact recursion and seed 001's exponential decay. Scale: |theta_A|^2 of each "
        "of the "
        f"{len(c['layers'])} BN-preceded conv weights against the exact recursion driven by the "
        "measured "
        "velocity norms"
        + (
            " and seed 001's integral law driven by the measured gradient norms."
            if hp["momentum"] == 0
            else "."
        ),
    )
    rows = [
        ["translation: max_k ‖s_k − exact‖∞ / ‖s_0‖∞", err_exact],
        ["translation: max_k ‖s_k − seed 001‖∞ / ‖s_0‖∞", err_seed],
        ["translation: ‖s_K‖ / ‖s_0‖ measured", np.linalg.norm(s[-1]) / norm0],
        ["bias sum: max_k abs(b_k − exact)", np.abs(b - b_exact).max()],
        ["scale: max_k abs(a_k − exact) / a_0 (worst layer)", rel_exact.max()],
        ["scale: max abs(⟨θ_A, g_A⟩) / (‖θ_A‖ ‖g_A‖)", np.nanmax(cos)],
    ]
    out = {
        "translation_err_exact": err_exact,
        "translation_err_seed": err_seed,
        "scale_err_exact": rel_exact.max(),
        "max_cos_theta_g": float(np.nanmax(cos)),
    }
    if hp["momentum"] == 0:
        a_seed = scale_seed(c["a"][0], c["gg"], lr=hp["lr"], weight_decay=hp["weight_decay"])
        rel_seed = np.abs(a_meas - a_seed).max(0) / a_meas[0]
        rows.append(["scale: max_k abs(a_k − seed 001) / a_0 (worst layer)", rel_seed.max()])
        out["scale_err_seed"] = rel_seed.max()
    rep.table(["quantity", "value"], rows)
    fig, ax = new_figure(1, 2)
    k = np.arange(K + 1)
    ax[0].plot(k, np.linalg.norm(s, axis=1), "k", label="measured")
    ax[0].plot(k, np.linalg.norm(s_exact, axis=1), "r--", label="exact recursion")
    ax[0].plot(k, np.linalg.norm(s_seed, axis=1), "b:", label="seed 001 e^{-lambda t}")
    ax[0].set(xlabel="step", ylabel="|1^T W_fc|", title="translation symmetry")
    ax[0].legend(fontsize=7)
    for j in np.unique(np.linspace(0, len(c["layers"]) - 1, 4).astype(int)):
        ax[1].plot(k, a_meas[:, j] / a_meas[0, j], label=c["layers"][j])
        ax[1].plot(k, a_exact[:, j] / a_meas[0, j], "k--", lw=0.7)
    ax[1].set(
        xlabel="step", ylabel="|theta_A|^2 / |theta_A(0)|^2", title="scale symmetry (dashed: exact)"
    )
    ax[1].legend(fontsize=6)
    rep.figure(fig, "conservation.png", "Broken conservation laws: measured vs predicted.")
    rep.value("conservation", {**out, "layers": c["layers"], "scale_rel_err_per_layer": rel_exact})
    return out
