"""Figures are written as PNG and PDF with their plotted arrays, and a finished run's figure can
be redrawn from its results.json (validation.linreg.figures.plot) with the same data."""

import numpy as np
import pytest

from validation.linreg import figures
from validation.linreg.estimate import Estimate
from validation.report import Report
from validation.runs import MixedRunError, figure_data


def _settings():
    rng = np.random.default_rng(0)
    out = []
    for beta in (0.9, 0.99):
        k = np.arange(1, 51)
        D = (1 - np.exp(-k / 10.0)) * (1 + beta)
        L = np.array([12, 25, 50])
        ests = [Estimate(0.5 + 0.1 * i, 0.01) for i in range(3)]
        out.append(
            {
                "momentum": beta,
                "steps": k,
                "displacement": {
                    kind: (D * (1 + 0.01 * rng.standard_normal(50)), 0.01 * D)
                    for kind in ("gaussian", "minibatch")
                },
                "displacement_exact": D,
                "displacement_sde": 1.01 * D,
                "displacement_eq13": 0.99 * D,
                "lengths": L,
                "exponent_by_length": {"gaussian": ests, "minibatch": ests},
                "exponent_by_length_exact": np.array([0.6, 0.5, 0.4]),
                "exponent_by_length_sde": np.array([0.61, 0.51, 0.41]),
            }
        )
    return out


def _lines(fig):
    return [np.asarray(line.get_ydata()) for ax in fig.axes for line in ax.get_lines()]


@pytest.fixture
def run(tmp_path):
    rep = Report(tmp_path, "figures", command="x")
    fig = figures.displacement_figure(_settings())
    drawn = _lines(fig)
    rep.figure(fig, "displacement.png", "displacement")
    rep.write()
    return tmp_path, drawn


def test_formats_and_data_beside_the_figure(run):
    out, _ = run
    assert (out / "displacement.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "displacement.pdf").read_bytes()[:5] == b"%PDF-"
    data = figure_data(out / "results.json", "displacement.png")
    settings = _settings()
    np.testing.assert_array_equal(data["exact_1"], settings[1]["displacement_exact"])
    np.testing.assert_array_equal(data["exponent_gaussian_0"], [0.5, 0.6, 0.7])
    np.testing.assert_array_equal(data["momentum"], [0.9, 0.99])


def test_redrawn_figure_plots_the_same_arrays(run):
    out, drawn = run
    again = figures.plot(out / "results.json", "displacement")
    redrawn = _lines(again)
    assert len(redrawn) == len(drawn) > 0
    for a, b in zip(drawn, redrawn):
        np.testing.assert_array_equal(a, b)


def test_plot_refuses_unknown_figures_and_foreign_data(run):
    out, _ = run
    with pytest.raises(KeyError, match="redrawable"):
        figures.plot(out / "results.json", "no_such_figure")
    with pytest.raises(KeyError, match="has no figure"):
        figures.plot(out / "results.json", "isotropy")
    other = Report(out.parent / "other", "other", command="x")
    other.figure(figures.displacement_figure(_settings()), "displacement.png", "d")
    other.write()
    (out / "displacement.npz").write_bytes((out.parent / "other" / "displacement.npz").read_bytes())
    with pytest.raises(MixedRunError):
        figure_data(out / "results.json", "displacement")


def test_sweeps_redraw_with_the_same_arrays(tmp_path):
    from types import SimpleNamespace

    setup = SimpleNamespace(lr=0.1, batch_size=8, momenta=(0.9,))
    sweeps = {"fit_steps": 60}
    for axis, values in (("lr", [0.05, 0.1, 0.2]), ("momentum", [0.8, 0.9, 0.99])):
        sweeps[axis] = [
            {
                "value": v,
                "speed_exact": 1.0 + v,
                "speed_sde": 1.1 + v,
                "exponent_exact": 0.5,
                "exponent_sde": 0.6,
                "speed": {k: Estimate(1.0 + v, 0.01) for k in ("gaussian", "minibatch")},
                "exponent": {k: Estimate(0.5, 0.02) for k in ("gaussian", "minibatch")},
            }
            for v in values
        ]
    rep = Report(tmp_path, "sweeps", command="x")
    fig = figures.sweep_figure(sweeps, setup)
    drawn = _lines(fig)
    rep.figure(fig, "sweeps.png", "sweeps")
    rep.write()
    redrawn = _lines(figures.plot(tmp_path / "results.json", "sweeps.png"))
    assert len(redrawn) == len(drawn) > 0
    for a, b in zip(drawn, redrawn):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(redrawn[0], [1.05, 1.1, 1.2])  # exact speed along lr


def test_a_figure_without_named_data_saves_every_array_it_draws(tmp_path):
    # the symmetry, thermo and energy-drift figures name no data: their drawn arrays are saved
    from validation.report import new_figure

    fig, (ax, ax2) = new_figure(1, 2)
    x = np.linspace(0.0, 1.0, 7)
    ax.plot(x, x**2, label="square")
    ax.errorbar(x, x, yerr=0.1 * x)
    ax2.scatter([0.25, 0.5], [1.0, 2.0])
    ax2.imshow(np.arange(6.0).reshape(2, 3))
    report = Report(tmp_path, "t", command="test")
    report.figure(fig, "plain.png", "a plain figure")
    report.write()
    with np.load(tmp_path / "plain.npz") as d:
        assert np.array_equal(d["ax0_line0_x"], x) and np.array_equal(d["ax0_line0_y"], x**2)
        assert str(d["ax0_line0_label"]) == "square"
        assert np.array_equal(d["ax1_collection0_xy"], [[0.25, 1.0], [0.5, 2.0]])
        assert np.array_equal(d["ax1_image0"], np.arange(6.0).reshape(2, 3))
        assert str(d["run_id"]) == report.run_id
    assert (tmp_path / "plain.pdf").exists()
