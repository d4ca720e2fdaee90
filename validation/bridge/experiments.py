"""Report sections of the bridge: one function per experiment, each adding prose, tables,
predictions (through :class:`validation.report.Report`), figures and headline numbers.

Each function takes the phase results of :func:`.pipeline.run_phases` (torch tensors from the
state files) and the CLI settings ``a``, and returns its headline numbers as a dict.
"""

from __future__ import annotations

import numpy as np

from dynlab.observables import ensemble_mean_sem, fit_power_law, ols_loglog, tail_median_abs
from validation.report import new_figure

from . import analysis as an
from .conservation import scale_exact, scale_seed, translation_exact, translation_seed
from .energy import delta_H
from .noise import noise_covariance
from .pipeline import energy_grids

__all__ = [
    "setup",
    "diffusion",
    "speed",
    "hessian",
    "phase",
    "noise",
    "energy",
    "conservation",
    "performance",
]


def _np(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _speed(record):
    """Stationary ‖delta‖^2 of a run: mean over its second half, batch-means standard error."""
    d2 = _np(record)[:, 1]
    return an.batch_means(d2[len(d2) // 2 :])


def setup(rep, res, a, rt, n_train, n_test, source, n_params) -> dict:
    star = res["theta_star"]
    rep.section("Setup")
    rows = [
        ["device", str(rt.device)],
        ["bf16 autocast / channels_last", f"{rt.amp} / {rt.channels_last}"],
        ["data", f"{source}: {n_train} train, {n_test} test images"],
        ["model", f"CIFAR ResNet-18, width {star['width']}, {n_params:,} parameters"],
        [
            "theta*",
            f"{star['source']}; test accuracy {star['test_acc']:.4f}, test loss {star['test_loss']:.4f}",
        ],
        [
            "resumed SGD",
            f"lr {a.lr:g}, momentum {a.momentum:g}, weight decay {a.weight_decay:g}, "
            f"batch {a.batch_size}, {a.steps} steps, augmentation {'on' if a.augment else 'off'}",
        ],
    ]
    if star.get("seconds") is not None:
        rows.append(["pretraining", f"{len(star['history'])} epochs in {star['seconds']:.1f} s"])
    rep.table(["item", "value"], rows)
    if star.get("history"):
        h = star["history"]
        fig, ax = new_figure()
        ax.plot([e["epoch"] for e in h], [e["test_acc"] for e in h], "o-", ms=3)
        ax.set(xlabel="epoch", ylabel="test accuracy", title="pretraining")
        rep.figure(fig, "pretrain.png", "Pretraining: test accuracy per epoch.")
    return {
        "test_acc": star["test_acc"],
        "pretrain_seconds": star.get("seconds"),
        "n_params": n_params,
    }


def diffusion(rep, res, a) -> dict:
    rec = _np(res["base"]["record"])
    d2, D2 = rec[:, 1], rec[:, 2]
    k = np.arange(1, len(d2) + 1, dtype=float)
    fit = fit_power_law(k, D2, window="last_two_thirds")
    win = an.exponent_vs_window(D2)
    st = an.stationarity(d2)
    speed, speed_se = an.batch_means(d2[len(d2) // 2 :])
    rep.section(
        "Diffusion (seed 003 section 2, Figs. 1 and 7)",
        "‖delta_k‖^2 = ‖theta_k - theta_{k-1}‖^2 and ‖Delta_k‖^2 = ‖theta_k - theta*‖^2 at every step "
        "of the resumed run. The exponent c of ‖Delta_k‖^2 ~ k^c is fitted on the last 2/3 of the run "
        "(c = 1: Brownian; c < 1: sub-diffusion), and on prefixes of growing length (Fig. 7).",
    )
    rep.table(
        ["quantity", "value"],
        [
            ["mean ‖delta‖^2 (second half)", f"{speed:.4g} +- {speed_se:.2g}"],
            ["stationary (second vs last third)", f"{st['stationary']} (z = {st['z']:+.2f})"],
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
            "stationarity": st,
            "c_vs_length": win,
        },
    )
    return {"c": fit.c, "c_stderr": fit.stderr}


def speed(rep, res, a) -> dict:
    base = _speed(res["base"]["record"])
    s2trH = an.sigma2_trH_from_speed(base[0], a.lr, a.momentum, a.batch_size)
    s2trH_se = s2trH * base[1] / base[0]
    rep.section(
        "Instantaneous speed law (seed 003 eq. 12, Fig. 6)",
        "sigma^2 tr(H) is estimated once from the base run by inverting eq. 12, "
        "E‖delta‖^2 = lr^2 sigma^2 tr(H) / (S (1 - beta^2)); every sweep run is then predicted. "
        "Measured: mean ‖delta‖^2 over the second half of each run (batch-means standard error, "
        "combined with the base estimate's in the z-score). Stationary: second and last thirds agree "
        f"within {an.STATIONARITY_Z:g} standard errors.",
    )
    rows, out = [], {"sigma2_trH": s2trH, "runs": []}
    for r in res["sweeps"]["runs"]:
        hp = r["run"]
        d2 = _np(r["record"])[:, 1]
        m, se = an.batch_means(d2[len(d2) // 2 :])
        pred = float(an.speed_law(hp["lr"], hp["momentum"], hp["batch_size"], s2trH))
        pred_se = pred * s2trH_se / s2trH
        st = an.stationarity(d2)
        D2 = _np(r["record"])[:, 2]
        c = fit_power_law(np.arange(1, len(D2) + 1, dtype=float), D2, window="last_two_thirds")
        rep.predict(
            f"speed {r['key']}={r['value']:g}",
            pred,
            m,
            float(np.hypot(se, pred_se)),
            exact=False,
            note="eq. 12" + ("" if st["stationary"] else ", not stationary"),
        )
        rows.append([r["key"], r["value"], pred, m, m / pred, st["stationary"], c.c])
        out["runs"].append(
            {
                "key": r["key"],
                "value": r["value"],
                "predicted": pred,
                "measured": m,
                "stderr": se,
                "ratio": m / pred,
                "stationary": st["stationary"],
                "c": c.c,
                "c_stderr": c.stderr,
            }
        )
    rep.text(f"sigma^2 tr(H) from the base run: {s2trH:.4g} +- {s2trH_se:.2g}.")
    rep.table(
        [
            "hyperparameter",
            "value",
            "predicted ‖delta‖^2",
            "measured",
            "measured / predicted",
            "stationary",
            "c",
        ],
        rows,
    )
    keys = ("lr", "batch_size", "momentum")
    fig, ax = new_figure(2, 3)
    for j, key in enumerate(keys):
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
        xx = (
            np.linspace(min(x), max(x), 100)
            if key == "momentum"
            else np.geomspace(min(x), max(x), 100)
        )
        hp = {"lr": a.lr, "batch_size": a.batch_size, "momentum": a.momentum, key: xx}
        ax[0, j].plot(
            xx,
            an.speed_law(hp["lr"], hp["momentum"], hp["batch_size"], s2trH),
            "k:",
            label="eq. 12",
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
    ax[0, 0].legend()
    rep.figure(
        fig,
        "speed.png",
        "Sweeps of lr, batch size and momentum: measured speed vs eq. 12 (top), "
        "fitted diffusion exponent (bottom).",
    )
    rep.value("speed", out)
    ratios = np.array([r["ratio"] for r in out["runs"]])
    return {
        "sigma2_trH": s2trH,
        "ratio_min": float(ratios.min()),
        "ratio_max": float(ratios.max()),
        "n_stationary": int(sum(r["stationary"] for r in out["runs"])),
        "n_runs": len(out["runs"]),
    }


def hessian(rep, res, a) -> dict:
    h = res["hessian"]
    rho, resid, bounds = _np(h["rho"]), _np(h["residuals"]), _np(h["ritz_bounds"])
    rel = resid / abs(rho[0])
    rep.section(
        "Hessian top-k eigenpairs (seed 003 appendix H.1)",
        f"Lanczos with full reorthogonalization on Hessian-vector products of the training loss on a fixed "
        f"subset of {h['samples']} images (train-mode BatchNorm, batches of {a.batch_size}, float32). "
        f"{h['n_iter']} Lanczos steps, {h['n_matvec']} products in all (k of them for the explicit residuals "
        f"‖H q - rho q‖), {h['seconds']:.1f} s.",
    )
    rep.table(
        ["i", "rho_i", "‖H q_i - rho_i q_i‖ / rho_1", "Lanczos bound / rho_1"],
        [[i + 1, rho[i], rel[i], bounds[i] / abs(rho[0])] for i in range(len(rho))],
    )
    fig, ax = new_figure()
    ax.errorbar(np.arange(1, len(rho) + 1), rho, yerr=resid, fmt="o", ms=3)
    ax.set(
        xlabel="i",
        ylabel="rho_i",
        yscale="log" if rho.min() > 0 else "linear",
        title="top Hessian eigenvalues (bars: residual norms)",
    )
    rep.figure(
        fig, "hessian.png", "Top Hessian eigenvalues at theta*, with explicit residual norms."
    )
    rep.value(
        "hessian",
        {
            "rho": rho,
            "residuals": resid,
            "ritz_bounds": bounds,
            "n_matvec": h["n_matvec"],
            "n_iter": h["n_iter"],
            "seconds": h["seconds"],
            "samples": h["samples"],
        },
    )
    return {
        "rho_1": float(rho[0]),
        "rho_k": float(rho[-1]),
        "max_rel_residual": float(rel.max()),
        "seconds": h["seconds"],
    }


def _ratio(x, sx, y, sy):
    r = x / y
    return r, abs(r) * np.hypot(sx / x, sy / y)


def phase(rep, res, a) -> dict:
    h, base = res["hessian"], res["base"]
    rho_all = _np(h["rho"])
    proj = list(base["projected"])
    rho = rho_all[proj]
    rec = _np(base["record"])
    m = len(proj)
    A, B = rec[:, 3 : 3 + m], rec[:, 3 + m :]
    qSq = noise_covariance(_run_np(res["noise"]))["qSq"][proj] if "noise" in res else None
    ok = rho > 0
    ps = an.phase_space(
        A[:, ok],
        B[:, ok],
        rho[ok],
        lr=a.lr,
        momentum=a.momentum,
        weight_decay=a.weight_decay,
        batch_size=a.batch_size,
        qSq=None if qSq is None else qSq[ok],
    )
    idx = [i + 1 for i, good in zip(proj, ok) if good]
    rep.section(
        "Phase space (seed 003 section 7, Figs. 3-5)",
        "Position a_i = q_i^T (theta_k - theta*) and velocity b_i = q_i^T v_k (v = -momentum buffer) along "
        "the Hessian eigenvectors, second half of the base run. Frequencies: dominant FFT peak of b_i "
        f"(mean over segments of {an.FFT_SEGMENT} steps) vs dynlab.modes.mode_frequencies (SDE, and exact "
        "discrete recursion) and the peak of the predicted velocity spectrum. Variances: "
        "block estimates vs dynlab.modes.stationary_mode_variances, under Assumption 5 (Sigma = sigma^2 H, "
        "ratios only) and with the measured q_i^T Sigma q_i (absolute).",
    )
    rep.table(
        [
            "i",
            "rho_i",
            "FFT peak of b_i (cycles/step)",
            "± s.e. (segments)",
            "velocity-spectrum peak",
            "± half width",
            "mode frequency, exact",
            "mode frequency, SDE",
        ],
        [
            [i, r, f, fs, p, w, e, sd]
            for i, r, f, fs, p, w, e, sd in zip(
                idx,
                rho[ok],
                ps["freq_measured"],
                ps["freq_measured_se"],
                ps["freq_peak"],
                ps["freq_peak_hwhm"],
                ps["freq_exact"],
                ps["freq_sde"],
            )
        ],
    )
    rep.text(
        "The velocity-spectrum peak is where the FFT of q_i^T v should peak under the per-mode exact "
        "recursion (an AR(2) position); the mode frequency (argument of the recursion's eigenvalue) is "
        "lower by O(damping). A periodogram's argmax scatters within the half width."
    )
    # variance ratios along q_1 and q_k (first and last projected)
    va, va_se, vb, vb_se = ps["var_a"], ps["var_a_se"], ps["var_b"], ps["var_b_se"]
    Ra, Ra_se = _ratio(va[0], va_se[0], va[-1], va_se[-1])
    Rb, Rb_se = _ratio(vb[0], vb_se[0], vb[-1], vb_se[-1])
    lab = f"q_1 / q_{idx[-1]}"
    rows = []
    for tag in ("exact", "sde"):
        pa = ps[f"assump5_var_a_{tag}"][0] / ps[f"assump5_var_a_{tag}"][-1]
        pb = ps[f"assump5_var_b_{tag}"][0] / ps[f"assump5_var_b_{tag}"][-1]
        rep.predict(
            f"Var(a) ratio {lab}, modified loss ({tag})",
            pa,
            Ra,
            Ra_se,
            exact=False,
            note="Assumption 5",
        )
        rep.predict(
            f"Var(b) ratio {lab}, modified loss ({tag})",
            pb,
            Rb,
            Rb_se,
            exact=False,
            note="Assumption 5",
        )
        rows += [
            [f"Var(a) {lab}", f"modified loss, {tag}", pa, Ra],
            [f"Var(b) {lab}", f"modified loss, {tag}", pb, Rb],
        ]
    naive = rho[ok][-1] / rho[ok][0]
    rep.predict(
        f"Var(a) ratio {lab}, training-loss Gibbs",
        naive,
        Ra,
        Ra_se,
        exact=False,
        note="naive: Var ~ 1/rho",
    )
    rows.append([f"Var(a) {lab}", "training-loss Gibbs (1/rho)", naive, Ra])
    if qSq is not None:
        for j, i in enumerate(idx):
            rep.predict(
                f"Var(a_{i}) from measured q^T Sigma q",
                ps["measured_var_a_exact"][j],
                va[j],
                va_se[j],
                exact=False,
                note="discrete Stein",
            )
            rep.predict(
                f"Var(b_{i}) from measured q^T Sigma q",
                ps["measured_var_b_exact"][j],
                vb[j],
                vb_se[j],
                exact=False,
                note="discrete Stein",
            )
    rep.table(["quantity", "prediction", "predicted", "measured"], rows)
    _phase_figures(rep, res, a, A[:, ok], B[:, ok], rho[ok], idx, ps)
    rep.value(
        "phase",
        {
            "indices": idx,
            "rho": rho[ok],
            **ps,
            "var_ratio_a": Ra,
            "var_ratio_a_se": Ra_se,
            "var_ratio_b": Rb,
            "var_ratio_b_se": Rb_se,
        },
    )
    return {
        "freq_measured_q1": float(ps["freq_measured"][0]),
        "freq_peak_q1": float(ps["freq_peak"][0]),
        "freq_exact_q1": float(ps["freq_exact"][0]),
        "var_ratio_a": float(Ra),
        "var_ratio_a_modified": float(ps["assump5_var_a_exact"][0] / ps["assump5_var_a_exact"][-1]),
        "var_ratio_a_naive": float(naive),
    }


def _phase_figures(rep, res, a, A, B, rho, idx, ps):
    K = A.shape[0]
    a1, ak, b1, bk = A[:, 0], A[:, -1], B[:, 0], B[:, -1]
    surf = res.get("surface")
    fig, ax = new_figure(1, 3)
    panels = [("train", "training loss"), ("test", "test loss"), (None, "modified loss (eq. 10)")]
    for axis, (key, title) in zip(ax, panels):
        if key is not None and surf is not None:
            xs, ys = _np(surf["xs"]), _np(surf["ys"])
            cs = axis.contourf(xs, ys, _np(surf[key]), levels=20, cmap="viridis")
        else:
            xs = np.linspace(*np.array([-1.5, 1.5]) * np.abs(a1).max(), 60)
            ys = np.linspace(*np.array([-1.5, 1.5]) * np.abs(ak).max(), 60)
            X, Y = np.meshgrid(xs, ys)
            # Psi_theta ~ (theta - mu)^T H^{-1} (H + lambda I) (theta - mu) restricted to the plane,
            # centred on the mean of the trajectory's second half (estimate of mu)
            mx, my = a1[K // 2 :].mean(), ak[K // 2 :].mean()
            w1, wk = (rho[0] + a.weight_decay) / rho[0], (rho[-1] + a.weight_decay) / rho[-1]
            cs = axis.contourf(
                X, Y, w1 * (X - mx) ** 2 + wk * (Y - my) ** 2, levels=20, cmap="viridis"
            )
        axis.plot(a1, ak, color="k", lw=0.4)
        axis.plot([0], [0], "wo", ms=4)
        axis.set(
            xlabel=f"q_1 (rho = {rho[0]:.3g})",
            ylabel=f"q_{idx[-1]} (rho = {rho[-1]:.3g})",
            title=title,
        )
        rep_cb = axis.figure.colorbar(cs, ax=axis)
        rep_cb.ax.tick_params(labelsize=6)
    rep.figure(
        fig,
        "fig3_position.png",
        "Position trajectory on the (q_1, q_k) plane over the training loss, the "
        "test loss and the modified loss (Fig. 3).",
    )
    fig, ax = new_figure()
    X, Y = np.meshgrid(
        np.linspace(-1.2, 1.2, 80) * np.abs(b1).max(), np.linspace(-1.2, 1.2, 80) * np.abs(bk).max()
    )
    ax.contour(X, Y, X**2 / rho[0] + Y**2 / rho[-1], levels=10, cmap="Greys")
    ax.plot(b1, bk, lw=0.4, color="C3")
    ax.set(
        xlabel="q_1^T v", ylabel=f"q_{idx[-1]}^T v", title="velocity vs Psi_v ~ v^T H^-1 v (Fig. 4)"
    )
    rep.figure(
        fig,
        "fig4_velocity.png",
        "Velocity trajectory on the (q_1, q_k) plane over contours of v^T H^-1 v.",
    )
    fig, ax = new_figure(2, 2)
    for row, (j, name) in enumerate(((0, idx[0]), (-1, idx[-1]))):
        ax[row, 0].plot(A[K // 2 :, j], B[K // 2 :, j], lw=0.4)
        ax[row, 0].set(
            xlabel=f"position q_{name}", ylabel=f"velocity q_{name}", title=f"phase space, q_{name}"
        )
        x = B[K // 2 :, j] - B[K // 2 :, j].mean()
        f = np.fft.rfftfreq(len(x))
        ax[row, 1].semilogy(f[1:], np.abs(np.fft.rfft(x))[1:] ** 2, lw=0.5)
        ax[row, 1].axvline(ps["freq_peak"][j], color="r", ls="--", label="predicted spectrum peak")
        ax[row, 1].axvline(
            ps["freq_exact"][j], color="b", ls="-.", lw=0.8, label="mode frequency (exact)"
        )
        ax[row, 1].axvline(ps["freq_measured"][j], color="k", ls=":", label="FFT peak")
        ax[row, 1].set(
            xlabel="frequency (cycles/step)", ylabel="power", title=f"spectrum of q_{name}^T v"
        )
        ax[row, 1].legend(fontsize=7)
    rep.figure(
        fig,
        "fig5_phase.png",
        "Phase-space trajectories along q_1 and q_k and their velocity spectra (Fig. 5).",
    )


def noise(rep, res, a) -> dict:
    h, nz = res["hessian"], res["noise"]
    rho = _np(h["rho"])
    nc = noise_covariance(_run_np(nz))
    ok = rho > 0
    fit = ols_loglog(rho[ok], nc["qSq"][ok], level=0.95)
    sigma2 = nc["qSq"][ok] / rho[ok]
    rep.section(
        "Gradient-noise structure (seed 003 Assumption 5)",
        f"Sigma = S (N-1)/(N-S) Cov(g_B) from {len(_np(nz['centred_sqnorm']))} minibatch gradients of size "
        f"{a.batch_size} at theta* (train-mode BatchNorm). Assumption 5 (Sigma = sigma^2 H) predicts "
        "q_i^T Sigma q_i = sigma^2 rho_i: slope 1 in log-log.",
    )
    rep.table(
        ["i", "rho_i", "q_i^T Sigma q_i", "std. error", "sigma_i^2 = q^T Sigma q / rho"],
        [
            [i + 1, rho[i], nc["qSq"][i], nc["qSq_se"][i], nc["qSq"][i] / rho[i]]
            for i in range(len(rho))
        ],
    )
    rep.predict(
        "log-log slope of q^T Sigma q vs rho",
        1.0,
        fit.slope,
        fit.stderr,
        exact=False,
        note=f"95% CI [{fit.ci_low:.3f}, {fit.ci_high:.3f}]",
    )
    base_speed = _speed(res["base"]["record"])
    pred = float(an.speed_law(a.lr, a.momentum, a.batch_size, nc["trSigma"]))
    pred_se = pred * nc["trSigma_se"] / nc["trSigma"]
    rep.predict(
        "speed from measured tr Sigma (eq. 12)",
        pred,
        base_speed[0],
        float(np.hypot(base_speed[1], pred_se)),
        exact=False,
        note="no fitted constant",
    )
    rep.text(
        f"tr Sigma = {nc['trSigma']:.4g} +- {nc['trSigma_se']:.2g}; predicted ‖delta‖^2 = lr^2 tr Sigma / "
        f"(S (1 - beta^2)) = {pred:.4g}, measured {base_speed[0]:.4g} (ratio {base_speed[0] / pred:.3f})."
    )
    fig, ax = new_figure()
    ax.errorbar(rho[ok], nc["qSq"][ok], yerr=nc["qSq_se"][ok], fmt="o", ms=3, label="measured")
    rr = np.geomspace(rho[ok].min(), rho[ok].max(), 50)
    ax.plot(
        rr,
        _loglog_line(rr, rho[ok], nc["qSq"][ok], fit.slope),
        "r--",
        label=f"fit, slope {fit.slope:.2f}",
    )
    ax.plot(rr, np.median(sigma2) * rr, "k:", label="slope 1 (Assumption 5)")
    ax.set(xscale="log", yscale="log", xlabel="rho_i", ylabel="q_i^T Sigma q_i")
    ax.legend()
    rep.figure(
        fig,
        "noise.png",
        "Gradient-noise variance along the Hessian eigenvectors vs the eigenvalues.",
    )
    rep.value(
        "noise",
        {
            "qSq": nc["qSq"],
            "qSq_se": nc["qSq_se"],
            "trSigma": nc["trSigma"],
            "trSigma_se": nc["trSigma_se"],
            "slope": fit.slope,
            "slope_stderr": fit.stderr,
            "slope_ci": [fit.ci_low, fit.ci_high],
            "sigma2_i": sigma2,
            "speed_predicted": pred,
        },
    )
    return {
        "slope": fit.slope,
        "slope_ci": [fit.ci_low, fit.ci_high],
        "speed_ratio": base_speed[0] / pred,
    }


def _loglog_line(xx, x, y, slope):
    """The OLS line of log y on log x at ``xx``: it passes through the centroid of the logs."""
    lx, ly = np.log(x).mean(), np.log(y).mean()
    return np.exp(ly + slope * (np.log(xx) - lx))


def energy(rep, res, a) -> dict:
    en = res["energy"]
    rep.section(
        "Energy drift (seed 000: Table 1, Figs. 1-3)",
        f"Tail-median |Delta H| (last 20% of {a.energy_steps} steps, batch {a.energy_batch_size}, "
        f"{a.energy_seeds} seeds, init: {a.energy_init}) vs step size, OLS of log10 drift on log10 step "
        "across the grid (seed means), 95% intervals. 'consecutive': H_{t+1} - H_t, each on its own batch "
        "(what a training loop logs); 'same-batch': the change of the one Hamiltonian a step integrates. "
        "First-order methods: K = ‖theta_{t+1} - theta_t‖^2 / (2 lr) (our convention).",
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
            rows.append(
                [
                    grid,
                    method,
                    kind,
                    f"[{steps[0]:.3g}, {steps[-1]:.3g}]",
                    fit.slope,
                    f"[{fit.ci_low:+.3f}, {fit.ci_high:+.3f}]",
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
            "drift at first step",
            "at last step",
        ],
        rows,
    )
    rt = {m: en[f"roundtrip_{m}"]["error"] for m in ("leapfrog", "euler")}
    rep.text(
        f"Reversibility (Fig. 2), {en['roundtrip_leapfrog']['steps']} steps forward and back at dt = "
        f"{en['roundtrip_leapfrog']['dt']:.3g}: normalized round-trip error leapfrog (undamped) "
        f"{rt['leapfrog']:.3g}, explicit Euler {rt['euler']:.3g} "
        f"({np.log10(rt['euler'] / max(rt['leapfrog'], 1e-300)):.1f} orders of magnitude)."
    )
    capped = {
        g: float(np.max(table[f"{g}/cap"]["mean"])) for g in ("leapfrog_band", "leapfrog_wide")
    }
    rep.text(
        f"Cap engagement (fraction of steps, max over the grid): canonical band {capped['leapfrog_band']:.3f}, "
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
    rep.value("energy", {"table": table, "roundtrip": rt})
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


def _run_np(r):
    return {k: _np(v) if hasattr(v, "numpy") else v for k, v in r.items()}


def conservation(rep, res, a) -> dict:
    c = _run_np(res["conservation"])
    hp = dict(
        lr=a.conservation_lr,
        momentum=a.conservation_momentum,
        weight_decay=a.conservation_weight_decay,
    )
    K = len(c["a"])
    s = c["colsum"]
    s_exact = translation_exact(s[0], np.zeros_like(s[0]), K, **hp)
    s_seed = translation_seed(s[0], K, **hp)
    norm0 = np.linalg.norm(s[0])
    err_exact = np.abs(s - s_exact).max() / np.abs(s[0]).max()
    err_seed = np.abs(s - s_seed).max() / np.abs(s[0]).max()
    b = c["biassum"]
    b_exact = translation_exact(b[:1], np.zeros(1), K, **hp)[:, 0]
    a_meas = np.vstack([c["a"], c["a_end"][None, :]])
    a_exact = scale_exact(c["a"][0], c["vv"], **hp)
    rel_exact = np.abs(a_meas - a_exact).max(0) / a_meas[0]
    cos = np.abs(c["tg"]) / np.sqrt(c["a"] * c["gg"])
    rep.section(
        "Broken conservation laws (seed 001)",
        f"Heavy-ball SGD from theta* (lr {hp['lr']:g}, momentum {hp['momentum']:g}, weight decay "
        f"{hp['weight_decay']:g}, {K} steps, float32). Translation: column sums s = 1^T W of the final layer "
        "against the exact recursion and seed 001's exponential decay. Scale: |theta_A|^2 of each of the "
        f"{len(c['layers'])} BN-preceded conv weights against the exact recursion driven by the measured "
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
    rep.section(
        "Wall time",
        "As measured inside this run (checkpoint writes included); the overhead of the "
        "instrumentation against a bare loop is measured by benchmarks/bridge.py.",
    )
    rep.table(["phase", "work", "time", "throughput"], rows)
    return out
