"""Report sections at theta*: Hessian eigenpairs, phase space (Figs. 3-5), gradient noise.

Same conventions as :mod:`.sections_run`. No torch import.
"""

from __future__ import annotations

import numpy as np

from dynlab.observables import ols_loglog
from dynlab.traces import speed_from_trace
from validation.report import new_figure

from . import analysis as an
from .analysis import noise_covariance
from .records import RunRecord
from .records import as_numpy as _np
from .settings import base_hyper

__all__ = ["hessian", "phase", "noise", "run_numpy"]


def run_numpy(r: dict) -> dict:
    """A phase result with its tensors as numpy arrays."""
    return {k: _np(v) if hasattr(v, "numpy") else v for k, v in r.items()}


def hessian(rep, res, a) -> dict:
    h = res["hessian"]
    rho, resid, bounds = _np(h["rho"]), _np(h["residuals"]), _np(h["ritz_bounds"])
    rel = resid / abs(rho[0])
    rep.section(
        "Hessian top-k eigenpairs (seed 003 appendix H.1)",
        "Lanczos with full reorthogonalization on Hessian-vector products of the training loss "
        "on a fixed "
        f"subset of {h['samples']} images (train-mode BatchNorm, batches of {a.batch_size}, "
        "float32). "
        f"{h['n_iter']} Lanczos steps, {h['n_matvec']} products in all (k of them for the "
        "explicit residuals "
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
    rec = RunRecord.from_array(base["record"])
    A, B = rec.position, rec.velocity
    qSq = noise_covariance(run_numpy(res["noise"]))["qSq"][proj] if "noise" in res else None
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
        "Position a_i = q_i^T (theta_k - theta*) and velocity b_i = q_i^T v_k (v = -momentum "
        "buffer) along "
        "the Hessian eigenvectors, second half of the base run. Frequencies: dominant FFT peak of "
        "b_i "
        f"(mean over segments of {an.FFT_SEGMENT} steps) vs dynlab.modes.mode_frequencies (SDE, "
        "and exact "
        "discrete recursion) and the peak of the predicted velocity spectrum. Variances: "
        "block estimates vs dynlab.modes.stationary_mode_variances, under Assumption 5 (Sigma = "
        "sigma^2 H, "
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
        "The velocity-spectrum peak is where the FFT of q_i^T v should peak under the per-mode "
        "exact "
        "recursion (an AR(2) position); the mode frequency (argument of the recursion's "
        "eigenvalue) is "
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
    nc = noise_covariance(run_numpy(nz))
    ok = rho > 0
    fit = ols_loglog(rho[ok], nc["qSq"][ok], level=0.95)
    sigma2 = nc["qSq"][ok] / rho[ok]
    rep.section(
        "Gradient-noise structure (seed 003 Assumption 5)",
        "Sigma = S Cov(g_B) (the covariance of the optimizer's own batches) from "
        f"{len(_np(nz['centred_sqnorm']))} independent minibatch gradients of size "
        f"{a.batch_size} at theta* (train-mode BatchNorm). Assumption 5 (Sigma = sigma^2 H) "
        "predicts "
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
    pred = float(speed_from_trace(base_hyper(a), nc["trSigma"]))
    rep.text(
        f"tr Sigma = {nc['trSigma']:.4g} +- {nc['trSigma_se']:.2g}, so eq. 12 predicts "
        f"‖delta‖^2 = lr^2 tr Sigma / (S (1 - beta^2)) = {pred:.4g} for the base run; the speed "
        "section compares it (as the exact-weight quadrature) with every run on matched windows."
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
    return {"slope": fit.slope, "slope_ci": [fit.ci_low, fit.ci_high], "trSigma": nc["trSigma"]}


def _loglog_line(xx, x, y, slope):
    """The OLS line of log y on log x at ``xx``: it passes through the centroid of the logs."""
    lx, ly = np.log(x).mean(), np.log(y).mean()
    return np.exp(ly + slope * (np.log(xx) - lx))
