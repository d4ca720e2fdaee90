"""The main job's minibatch rows (validation/linreg/minibatch*.py) at the --quick size.

Monte Carlo: every gated row's z is N(0, 1) when the exact moments are right (fixed seeds); with
~30 gated rows the chance that a correct implementation puts one beyond 4 is 30 * 6.3e-5 < 0.2%.
"""

from __future__ import annotations

import numpy as np
import pytest

from validation.linreg import minibatch, minibatch_reshuffle
from validation.linreg.minibatch_report import MB_LABELS, RS_LABELS, add_minibatch
from validation.report import Report

Z_LIMIT = 4.0


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    report = Report(tmp_path_factory.mktemp("minibatch"), "minibatch rows", command="test")
    add_minibatch(report, "quick", seed=0)
    return report


def _sampling(row) -> str:
    return row.name.split("[minibatch ")[1].split(",")[0]


@pytest.mark.montecarlo
def test_quick_rows_within_the_gate(quick):
    gated = [p for p in quick.predictions if p.exact]
    z = np.array([p.z for p in gated])
    assert np.all(np.abs(z) <= Z_LIMIT), [(p.name, p.z) for p in gated if abs(p.z) > Z_LIMIT]
    # the issue's acceptance: >= 10 gated rows in --quick, in at least two sampling modes
    modes = {_sampling(p) for p in gated}
    assert len(gated) >= 10
    assert {"with_replacement", "without_replacement"} <= modes


@pytest.mark.montecarlo
def test_quick_row_counts_per_sampling_mode(quick):
    counts = {}
    for p in quick.predictions:
        key = (_sampling(p), p.exact)
        counts[key] = counts.get(key, 0) + 1
    per_case = len(MB_LABELS) + 2  # the observables and two FDR rows
    cases = minibatch.CASES["quick"]
    for mode in ("with_replacement", "without_replacement"):
        n = sum(c.sampling == mode for c in cases)
        assert counts[(mode, True)] == n * per_case
        assert (mode, False) not in counts
    n = sum(c.sampling == "reshuffle" for c in cases)
    n_exact = len(minibatch_reshuffle.RESHUFFLE_CASES["quick"])
    # approximate cases: only the FDR with the applied gradient is gated; exact-epoch cases:
    # the observables and both FDR rows
    assert counts[("reshuffle", True)] == n + n_exact * (len(RS_LABELS) + 2)
    assert counts[("reshuffle", False)] == n * (per_case - 1)
    assert quick.figures[0]["file"] == "minibatch_slow_variance.png"
    assert (quick.out_dir / "minibatch_slow_variance.png").stat().st_size > 0


@pytest.mark.montecarlo
def test_what_the_report_claims(quick):
    by_name = {p.name: p for p in quick.predictions}
    values = {
        v["case"]["sampling"] + str(v["case"]["momentum"]): v for v in quick.values["minibatch"]
    }
    # 1. the additive-Gaussian model misses SGD with S = 1: the simulation rejects it
    v = values["with_replacement0.0"]
    for key in ("excess_loss", "speed"):
        m, se = v["measured"][key]
        assert abs(m - v["additive"][key]) / se > 2 * Z_LIMIT, key
    # 2. under reshuffling the full-gradient FDR fails, the applied-gradient one holds
    label = next(c.label for c in minibatch.CASES["quick"] if c.sampling == "reshuffle")
    assert abs(by_name[f"FDR lhs - rhs, full gradient [minibatch {label}]"].z) > 2 * Z_LIMIT
    assert abs(by_name[f"FDR lhs - rhs, minibatch gradient [minibatch {label}]"].z) <= Z_LIMIT
    # 3. exact reshuffling: the epoch-start mean is resolved away from 0 (the additive
    # idealisation's value), and the predicted FDR violation is far from 0
    for v in quick.values["minibatch_reshuffle"]:
        m, se = v["measured"]["start_mean_1"]
        assert abs(m) / se > 2 * Z_LIMIT and v["additive"]["start_mean_1"] == 0.0
        assert v["exact"]["fdr_ratio"] < 0.9


def test_default_cases_cover_the_issue_grid():
    cases = minibatch.CASES["default"]
    independent = [c for c in cases if c.sampling != "reshuffle"]
    assert len(independent) * (len(MB_LABELS) + 2) >= 20
    assert {c.momentum for c in independent} == {0.0, 0.9, 0.99}
    assert {c.wd_factor > 0 for c in independent} == {False, True}
    assert {c.batch_size for c in independent} >= {1, 4, 32}
    assert {c.sampling for c in independent} == {"with_replacement", "without_replacement"}
    assert any(c.sampling == "reshuffle" for c in cases)


def test_windows_are_whole_epochs():
    X, y = minibatch.finite_data()
    for case in minibatch.CASES["default"]:
        hp, exact, additive, _ = minibatch._models(X, y, case)
        burn, n = minibatch._window(X, hp, case, minibatch._relaxation(exact, additive), 100)
        epoch = X.shape[0] // case.batch_size
        assert burn % epoch == 0 and n % epoch == 0 and n >= 100
