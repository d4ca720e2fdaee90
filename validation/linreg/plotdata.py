"""The plotted arrays of the main job's figures, as flat dicts of numpy arrays.

Each function reduces the in-memory results of :mod:`.experiment` to the arrays one figure
draws; :mod:`.figures` draws from them, and the run saves them beside the figure (``.npz``) so
that :func:`.figures.plot` can redraw it later from ``results.json``. Keys ending in ``_<n>``
belong to momentum setting n.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mean_trajectory_data", "displacement_data", "sweep_data"]


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
