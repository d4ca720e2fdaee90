"""The plotted arrays of the main job's figures, as flat dicts of numpy arrays.

Each function reduces the in-memory results of :mod:`.experiment` to the arrays one figure
draws; :mod:`.figures` draws from them, and the run saves them beside the figure (``.npz``) so
that :func:`.figures.plot` can redraw it later from ``results.json``. Keys ending in ``_<n>``
belong to momentum setting n.
"""

from __future__ import annotations

import numpy as np

from dynlab._linalg import psd_factor

from .config import STREAMLINE_HOLE
from .predict import mode_ou, plane_cov

__all__ = [
    "mean_trajectory_data",
    "displacement_data",
    "sweep_data",
    "phase_data",
    "plane_data",
    "R95",
]

#: Radius of the 95% region of a 2-D Gaussian in Mahalanobis units: sqrt(-2 log 0.05).
R95 = float(np.sqrt(-2.0 * np.log(0.05)))


def mean_trajectory_data(settings, setup) -> dict:
    """Arrays of the mean-trajectory figure; keys end in ``_<n>`` for momentum setting n."""
    data = {
        "momentum": np.array([s["momentum"] for s in settings]),
        "title": np.array(f"{setup.name}, lr {setup.lr:g}, batch {setup.batch_size}"),
    }
    for n, s in enumerate(settings):
        pred = s["transient_predicted"]
        data[f"k_{n}"] = np.asarray(s["transient_steps"])
        for var in ("theta", "v"):
            x0 = pred[f"{var}_exact"][0]
            data[f"{var}_exact_{n}"] = np.asarray(pred[f"{var}_exact"])
            data[f"{var}_sde_{n}"] = np.asarray(pred[f"{var}_sde"])
            data[f"{var}_path_{n}"] = np.r_[x0, s["transient"]["gaussian"][f"{var}_path"]]
            for kind, curves in s["transient"].items():
                data[f"{var}_{kind}_mean_{n}"] = np.r_[x0, curves[f"{var}_mean"]]
                data[f"{var}_{kind}_se_{n}"] = np.r_[0.0, curves[f"{var}_se"]]
    return data


def displacement_data(settings) -> dict:
    """Arrays of the displacement figure; keys end in ``_<n>`` for momentum setting n."""
    data = {"momentum": np.array([s["momentum"] for s in settings])}
    for n, s in enumerate(settings):
        data[f"steps_{n}"] = np.asarray(s["steps"])
        for kind, (m, se) in s["displacement"].items():
            data[f"{kind}_mean_{n}"], data[f"{kind}_se_{n}"] = np.asarray(m), np.asarray(se)
        for curve in ("exact", "sde", "eq13"):
            data[f"{curve}_{n}"] = np.asarray(s[f"displacement_{curve}"])
        data[f"lengths_{n}"] = np.asarray(s["lengths"])
        for kind, ests in s["exponent_by_length"].items():
            data[f"exponent_{kind}_{n}"] = np.array([e.value for e in ests])
            data[f"exponent_{kind}_se_{n}"] = np.array([e.stderr for e in ests])
        for curve in ("exact", "sde"):
            data[f"exponent_{curve}_{n}"] = np.asarray(s[f"exponent_by_length_{curve}"])
    return data


def sweep_data(sweeps, setup) -> dict:
    """Arrays of the sweep figure; keys start with the swept hyperparameter's name."""
    names = [a for a in sweeps if a != "fit_steps"]
    base = f"lr {setup.lr:g}, batch {setup.batch_size}, momentum {setup.momenta[0]:g}"
    data = {"axes": np.array(names), "fit_steps": np.array(sweeps["fit_steps"]), "base": base}
    for axis in names:
        points = sweeps[axis]
        data[f"{axis}_x"] = np.array([p["value"] for p in points], dtype=np.float64)
        for q in ("speed", "exponent"):
            for curve in ("exact", "sde"):
                data[f"{axis}_{q}_{curve}"] = np.array([p[f"{q}_{curve}"] for p in points])
            for kind in points[0][q]:
                data[f"{axis}_{q}_{kind}"] = np.array([p[q][kind].value for p in points])
                data[f"{axis}_{q}_{kind}_se"] = np.array([p[q][kind].stderr for p in points])
    return {k: np.asarray(v) for k, v in data.items()}


def _ellipse(C, r=R95, n=200):
    t = np.linspace(0.0, 2.0 * np.pi, n)
    return r * psd_factor(C) @ np.vstack([np.cos(t), np.sin(t)])


def _plane_limits(C, equal: bool):
    """Half-widths of a plot around a 2-D Gaussian's 95% region (equal or per-axis)."""
    h = 1.3 * R95 * np.sqrt(np.diag(C))
    return np.full(2, h.max()) if equal else h


def phase_data(settings, setup) -> dict:
    """Arrays of the phase portraits; keys end in ``_<n>_<c>`` (momentum n, column c)."""
    low = setup.low_mode
    data = {"momentum": np.array([s["momentum"] for s in settings]), "low": low}
    for n, s in enumerate(settings):
        sgd = s["model"]
        for col, i in enumerate((0, low)):
            key = f"_{n}_{col}"
            ex = np.array(_ellipse(plane_cov(sgd, i, i, exact=True, plane="phase")))
            ou = mode_ou(sgd, i)
            hx, hy = 1.3 * np.max(np.abs(ex[0])), 1.3 * np.max(np.abs(ex[1]))
            gx, gy = np.linspace(-hx, hx, 41), np.linspace(-hy, hy, 41)
            G = np.stack(np.meshgrid(gx, gy), axis=-1) + ou.mu
            J = ou.current(G)
            data.update(
                {
                    "x" + key: s["samples"]["theta_last"][:, col],
                    "v" + key: s["samples"]["v_last"][:, col],
                    "path_x" + key: s["samples"]["theta_path"][:200, col],
                    "path_v" + key: s["samples"]["v_path"][:200, col],
                    "ellipse_exact" + key: ex,
                    "ellipse_sde" + key: np.array(
                        _ellipse(plane_cov(sgd, i, i, exact=False, plane="phase"))
                    ),
                    "gx" + key: gx,
                    "gy" + key: gy,
                    "J_x" + key: J[..., 0],
                    "J_v" + key: J[..., 1],
                    # no streamlines in the innermost part of the 95% region (they only circle)
                    "inner" + key: ou.modified_potential(G) * ou.kappa
                    < 0.5 * (STREAMLINE_HOLE * R95) ** 2,
                    "rho" + key: sgd.rho[i],
                }
            )
    return {k: np.asarray(v) for k, v in data.items()}


def plane_data(s, setup, var: str, forms, *, equal: bool, n_path: int, suptitle: str) -> dict:
    """Arrays of a two-panel plane figure (see :func:`.figures.draw_plane`).

    ``forms``: ``(f(X, Y) -> Z, contour colour, panel title)`` per panel, evaluated on the grid.
    """
    sgd, low = s["model"], setup.low_mode
    C_ex = plane_cov(sgd, 0, low, exact=True, plane=var)
    h = _plane_limits(C_ex, equal)
    X, Y = np.meshgrid(np.linspace(-h[0], h[0], 121), np.linspace(-h[1], h[1], 121))
    data = {
        "var": var,
        "low": low,
        "equal": equal,
        "limits": h,
        "X": X,
        "Y": Y,
        "last": s["samples"][f"{var}_last"],
        "path": s["samples"][f"{var}_path"][:n_path],
        "ellipse": np.array(_ellipse(C_ex)),
        "suptitle": suptitle,
    }
    for n, (form, color, title) in enumerate(forms):
        data.update({f"Z_{n}": form(X, Y), f"color_{n}": color, f"title_{n}": title})
    return {k: np.asarray(v) for k, v in data.items()}
