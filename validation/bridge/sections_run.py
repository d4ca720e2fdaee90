"""Report sections of the resumed runs: setup, diffusion, the speed law (eq. 12) with both
predictions and the fluctuation-dissipation check, wall time.

Each function takes the phase results (tensors or arrays from the state files), the settings
``a`` and a :class:`validation.report.Report`, and returns its headline numbers. No torch import.
"""

from __future__ import annotations

import numpy as np

from dynlab.observables import fit_power_law
from validation.report import new_figure

from . import analysis as an
from .records import RunRecord
from .sections_speed import _verdict, _window_start, speed

__all__ = ["setup", "diffusion", "speed", "performance"]


def _model_name(a, width: int) -> str:
    if a.model == "linear":
        return f"linear regression (--model linear), {width} features, loss ‖X theta - y‖^2 / 2S"
    return f"CIFAR ResNet-18, width {width}"


def setup(rep, res, a, meta: dict) -> dict:
    """``meta``: device, amp, channels_last, source, n_train, n_test, n_params, run_id."""
    star = res["theta_star"]
    rep.section("Setup")
    rows = [
        ["run id", meta["run_id"]],
        ["device", meta["device"]],
        ["bf16 autocast / channels_last", f"{meta['amp']} / {meta['channels_last']}"],
        ["data", f"{meta['source']}: {meta['n_train']} train, {meta['n_test']} test images"],
        ["model", _model_name(a, star["width"]) + f", {meta['n_params']:,} parameters"],
        [
            "theta*",
            f"{star['source']}; test accuracy {star['test_acc']:.4f}, test loss "
            f"{star['test_loss']:.4f}",
        ],
        [
            "resumed SGD",
            f"lr {a.lr:g}, momentum {a.momentum:g}, weight decay {a.weight_decay:g}, "
            f"batch {a.batch_size}, {a.steps} steps, augmentation {'on' if a.augment else 'off'}"
            f", sampling {a.sampling}",
        ],
    ]
    if star.get("seconds") is not None:
        rows.append(["pretraining", f"{len(star['history'])} epochs in {star['seconds']:.1f} s"])
    rep.table(["item", "value"], rows)
    if star.get("history"):
        h = star["history"]
        fig, ax = new_figure()
        # a regression has no accuracy
        key, what = (
            ("test_loss", "test loss") if a.model == "linear" else ("test_acc", "test accuracy")
        )
        ax.plot([e["epoch"] for e in h], [e[key] for e in h], "o-", ms=3)
        ax.set(xlabel="epoch", ylabel=what, title="pretraining")
        rep.figure(fig, "pretrain.png", f"Pretraining: {what} per epoch.")
    return {
        "test_acc": star["test_acc"],
        "pretrain_seconds": star.get("seconds"),
        "n_params": meta["n_params"],
    }


def diffusion(rep, res, a) -> dict:
    rec = RunRecord.from_array(res["base"]["record"])
    d2, D2 = rec.delta2, rec.Delta2
    k = np.arange(1, len(d2) + 1, dtype=float)
    fit = fit_power_law(k, D2, window="last_two_thirds")
    win = an.exponent_vs_window(D2)
    st = an.stationarity(d2)
    avg = an.windowed_mean(d2, _window_start(len(d2)), len(d2))
    speed, speed_se = avg.mean, avg.se
    rep.section(
        "Diffusion (seed 003 section 2, Figs. 1 and 7)",
        "‖delta_k‖^2 = ‖theta_k - theta_{k-1}‖^2 and ‖Delta_k‖^2 = ‖theta_k - theta*‖^2 at every "
        "step "
        "of the resumed run. The exponent c of ‖Delta_k‖^2 ~ k^c is fitted on the last 2/3 of the "
        "run "
        "(c = 1: Brownian; c < 1: sub-diffusion), and on prefixes of growing length (Fig. 7).",
    )
    rep.table(
        ["quantity", "value"],
        [
            [
                "mean ‖delta‖^2 (second half)",
                f"{speed:.4g} +- {speed_se:.2g} (ESS {avg.ess:.0f})",
            ],
            ["stationary (second vs last third)", f"{_verdict(st)} (z = {st['z']:+.2f})"],
            ["diffusion exponent c (last 2/3)", f"{fit.c:.4f} +- {fit.stderr:.2g}"],
            ["c at the shortest / longest prefix", f"{win['c'][0]:.3f} / {win['c'][-1]:.3f}"],
            ["test accuracy after the run", f"{res['base'].get('test_acc', float('nan')):.4f}"],
        ],
    )
    fig, ax = new_figure(1, 3)
    ax[0].plot(k, d2, lw=0.5, color="0.6")
    w = max(1, len(d2) // 50)
    ax[0].plot(k[w - 1 :], np.convolve(d2, np.ones(w) / w, mode="valid"), color="k")
    ax[0].set(xlabel="step k", ylabel="‖delta_k‖^2", title="local displacement")
    ax[1].loglog(k, D2, color="k")
    sel = k >= k[-1] / 3
    ax[1].loglog(k[sel], fit.prefactor * k[sel] ** fit.c, "r--", label=f"c = {fit.c:.3f}")
    ax[1].set(xlabel="step k", ylabel="‖Delta_k‖^2", title="global displacement")
    ax[1].legend()
    ax[2].errorbar(win["lengths"], win["c"], yerr=win["stderr"], fmt="o-", ms=3)
    ax[2].axhline(1.0, ls=":", color="0.5")
    ax[2].set(
        xscale="log",
        xlabel="length of the fitted trajectory (steps)",
        ylabel="fitted c",
        title="Fig. 7",
    )
    rep.figure(
        fig,
        "diffusion.png",
        "Local and global displacement of the base run; exponent vs fitted length.",
    )
    rep.value(
        "diffusion",
        {
            "c": fit.c,
            "c_stderr": fit.stderr,
            "prefactor": fit.prefactor,
            "speed": speed,
            "speed_stderr": speed_se,
            "speed_ess": avg.ess,
            "stationarity": st,
            "c_vs_length": win,
        },
    )
    return {"c": fit.c, "c_stderr": fit.stderr}


def performance(rep, res, a) -> dict:
    rows, out = [], {}
    base = res.get("base")
    if base is not None:
        ips = a.steps * a.batch_size / base["seconds"]
        rows.append(
            [
                "base run (instrumented)",
                f"{a.steps} steps",
                f"{base['seconds']:.1f} s",
                f"{ips:.0f} images/s",
            ]
        )
        out["base_images_per_s"] = ips
    if "hessian" in res:
        rows.append(
            [
                "Hessian top-k",
                f"{res['hessian']['n_matvec']} Hv",
                f"{res['hessian']['seconds']:.1f} s",
                "",
            ]
        )
    star = res["theta_star"]
    if star.get("seconds") is not None:
        rows.append(
            ["pretraining", f"{len(star['history'])} epochs", f"{star['seconds']:.1f} s", ""]
        )
    for phase, sec in res.get("timing", {}).items():
        rows.append([f"phase {phase} (this invocation)", "", f"{sec:.1f} s", ""])
    rep.section(
        "Wall time",
        "As measured inside this run (checkpoint writes included); the overhead of the "
        "instrumentation against a bare loop is measured by benchmarks/bridge.py.",
    )
    rep.table(["phase", "work", "time", "throughput"], rows)
    return out
