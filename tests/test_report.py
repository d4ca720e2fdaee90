"""validation.report: file modes, run ids, escaped tables, the t-distribution gate, provenance.

References are independent of the code under test: ``os.stat`` for modes, a hand count of
table cells, scipy's t and normal distributions, ``importlib.metadata`` and ``git`` itself.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from validation import provenance
from validation.linreg.estimate import jackknife, path_average, ratio_of_averages
from validation.report import (
    MIN_GATE_DOF,
    MixedRunError,
    Prediction,
    Report,
    atomic_write_text,
    escape_cell,
    exact_gate,
    new_figure,
    verify_run,
)
from validation.runs import run_id_of


def _small_report(out, **kw):
    rep = Report(out, "test", command="python -m validation.test", **kw)
    rep.predict("x | y", 1.0, 1.1, 0.1, exact=True, dof=99, n_eff=100)
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    rep.figure(fig, "line.png", "a line", data={"x": np.arange(2), "y": np.arange(2)})
    rep.prediction_table()
    rep.write()
    return rep


# ---------------------------------------------------------------------------- file modes


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        ref = tmp_path / "plain.txt"
        ref.write_text("x")  # what open() gives any new file under this umask
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == ref.stat().st_mode & 0o777
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------------------- run ids


def test_every_file_carries_the_run_id(tmp_path):
    rep = _small_report(tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["run_id"] == rep.run_id
    assert f"Run id: `{rep.run_id}`" in (tmp_path / "report.md").read_text()
    entry = results["figures"][0]
    assert set(entry["formats"]) == {"png", "pdf"} and entry["data"] == "line.npz"
    with np.load(tmp_path / "line.npz") as z:
        assert str(z["run_id"]) == rep.run_id and z["y"].tolist() == [0, 1]
    assert rep.run_id.encode() in (tmp_path / "line.pdf").read_bytes()
    assert verify_run(tmp_path) == rep.run_id


def test_any_run_id_is_read_back(tmp_path):
    rep = _small_report(tmp_path, run_id="short-id")
    assert {run_id_of(tmp_path / f) for f in ("line.png", "line.pdf", "line.npz")} == {"short-id"}
    assert verify_run(tmp_path) == rep.run_id


def test_a_file_of_another_run_is_refused(tmp_path):
    _small_report(tmp_path / "a")
    _small_report(tmp_path / "b")
    # swap in the other run's figure, as an interrupted run in a reused folder would leave it
    (tmp_path / "a" / "line.png").write_bytes((tmp_path / "b" / "line.png").read_bytes())
    with pytest.raises(MixedRunError, match="line.png"):
        verify_run(tmp_path / "a")


def test_a_new_run_clears_the_previous_one(tmp_path):
    _small_report(tmp_path)
    (tmp_path / ".results.json.abc.tmp").write_text("half")  # leftover of a killed write
    rep = Report(tmp_path, "second", command="x")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == []  # old report, results, figures, data and the temporary file are gone
    with pytest.raises(MixedRunError, match="did not finish"):
        verify_run(tmp_path)
    rep.write()
    assert verify_run(tmp_path) == rep.run_id


# ---------------------------------------------------------------------------- tables


@given(st.text(alphabet="ab|\\ \n`", max_size=12))
def test_escaped_cells_keep_one_column(text):
    cell = escape_cell(text)
    # GFM: a cell ends at every pipe not preceded by a backslash
    unescaped = sum(1 for i, ch in enumerate(cell) if ch == "|" and (i == 0 or cell[i - 1] != "\\"))
    assert unescaped == 0 and "\n" not in cell


def test_float_cells_have_four_digits():
    assert escape_cell(np.float64(1.234567)) == "1.235"


# ---------------------------------------------------------------------------- the gate


@given(st.floats(0.0, 12.0), st.integers(MIN_GATE_DOF, 500))
def test_z_gate_is_the_normal_deviate_of_the_t_tail(z, dof):
    p = Prediction("q", 0.0, z, 1.0, True, dof=dof)
    tail = stats.t.sf(z, dof)
    assert p.p_value == pytest.approx(2 * tail, rel=1e-12, abs=1e-300)
    # the gated value has the same normal tail (rounding of sf / isf: a few eps relative)
    assert stats.norm.sf(p.z_gate) == pytest.approx(tail, rel=1e-9, abs=1e-300)
    assert p.z_gate <= z + 1e-12  # t has heavier tails than the normal


def test_infinite_dof_is_the_normal_gate():
    assert Prediction("q", 0.0, 3.5, 1.0, True).z_gate == pytest.approx(3.5, rel=1e-12)


def test_too_few_paths_are_refused_for_a_gate(tmp_path):
    rep = Report(tmp_path, "t", command="x")
    with pytest.raises(ValueError, match="degrees of freedom"):
        rep.predict("q", 0.0, 1.0, 1.0, exact=True, dof=MIN_GATE_DOF - 1)
    rep.predict("q", 0.0, 1.0, 1.0, exact=False, dof=1)  # an approximation is not gated


def test_estimates_carry_their_degrees_of_freedom():
    x = np.random.default_rng(0).standard_normal((5, 17))
    assert (path_average(x).dof, path_average(x).n_eff) == (16, 17)
    assert ratio_of_averages(x**2, x**2 + 1).dof == 16
    assert jackknife(x, np.mean, groups=4).dof == 3


def test_small_ensemble_z_is_t_distributed_and_the_gate_holds_its_rate():
    # Monte Carlo: 4 paths (dof 3); the plain |z| > 4 rate is t_3's tail 2.8%, ~450x the
    # normal 6.3e-5, while z_gate > 4 keeps the normal rate. 20000 replications, fixed seed:
    # binomial standard errors 0.0012 and 5.6e-5; bounds at about 4 of them
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20000, 4))
    se = x.std(axis=1, ddof=1) / 2.0
    z = x.mean(axis=1) / se
    gate = np.array([Prediction("q", 0.0, zi, 1.0, True, dof=3).z_gate for zi in z])
    plain_rate, gate_rate = np.mean(np.abs(z) > 4), np.mean(gate > 4)
    assert abs(plain_rate - 2 * stats.t.sf(4, 3)) < 4 * 0.0012
    assert gate_rate < 2 * stats.norm.sf(4) + 4 * 5.6e-5


# ---------------------------------------------------------------------------- provenance


def test_results_record_versions_commit_and_command(tmp_path):
    _small_report(tmp_path)
    env = json.loads((tmp_path / "results.json").read_text())["environment"]
    import importlib.metadata

    for name in ("numpy", "scipy", "numba"):
        assert env["packages"][name] == importlib.metadata.version(name)
    assert "torch" in env["packages"]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=os.path.dirname(provenance.__file__),
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert env["git"]["commit"] == (head or None)
    assert env["command_line"]["argv"] == list(sys.orig_argv)


def test_absent_packages_are_none_and_not_imported():
    before = set(sys.modules)
    versions = provenance.package_versions(("numpy", "no-such-distribution-xyz"))
    assert versions["no-such-distribution-xyz"] is None
    assert not {m for m in set(sys.modules) - before if m.startswith("torch")}


def test_dof_in_results_json(tmp_path):
    _small_report(tmp_path)
    row = json.loads((tmp_path / "results.json").read_text())["predictions"][0]
    assert row["dof"] == 99 and row["n_eff"] == 100
    assert math.isclose(row["z_gate"], stats.norm.isf(stats.t.sf(1.0, 99)), rel_tol=1e-9)


def test_exact_gate_fails_on_a_nan_exact_prediction(tmp_path, capsys):
    # a failed measurement (NaN) must not pass as "no |z| above the limit"
    report = Report(tmp_path, "gate")
    report.predict("agrees", 1.0, 1.1, 0.1, exact=True)
    report.predict("failed", 1.0, float("nan"), 0.1, exact=True)
    assert exact_gate(report, 4.0) == 1
    assert "failed" in capsys.readouterr().out
