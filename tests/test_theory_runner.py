"""``python -m theory``: every derivation's claims pass, and a failing claim makes it fail."""

import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import theory
from theory import __main__ as runner
from theory import sgd_sde
from theory._claims import Outcome, run_claims, vanishes

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_theory_passes():
    # the CI entry point: a fresh interpreter, every module, exit status 0
    done = subprocess.run(
        [sys.executable, "-m", "theory"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 failed" in done.stdout
    for name in theory.MODULES:
        module = __import__(f"theory.{name}", fromlist=["NAME"])
        assert module.NAME in done.stdout


def test_runner_exits_nonzero_on_a_failed_claim(monkeypatch, capsys):
    failing = [Outcome(sgd_sde.NAME, "a claim that does not hold", False, 0.0, "ValueError: no")]
    monkeypatch.setattr(sgd_sde, "verify", lambda: failing)
    assert runner.main(["sgd_sde"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "a claim that does not hold" in out and "ValueError: no" in out


def test_claims_can_fail():
    x = sp.Symbol("x")
    assert vanishes(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1, sp.expand, sp.trigsimp)
    assert not vanishes(x**2 - x)
    outcomes = run_claims(
        "d", [("raises", lambda: 1 / 0), ("false", lambda: False), ("not a bool", lambda: 1)]
    )
    assert [o.passed for o in outcomes] == [False, False, False]
    assert "ZeroDivisionError" in outcomes[0].detail and "not a bool" in outcomes[2].detail


def test_runner_rejects_unknown_derivations():
    with pytest.raises(SystemExit) as exc:
        runner.main(["no_such_derivation"])
    assert exc.value.code == 2
