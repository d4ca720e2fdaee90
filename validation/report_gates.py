"""Closing a validation run: the summary table, the gates and the exit status.

Re-exported by :mod:`validation.report`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .report_core import Report


def finish(report: Report) -> Path:
    """Close a report with the table of every prediction, write it and print a one-line summary."""
    if report.gates:
        failed = [g for g in report.gates if not g.passed]
        report.section(
            "Gates",
            f"{len(report.gates) - len(failed)} of {len(report.gates)} gated predictions passed."
            + "".join(f"\n\n**FAILED** {g.describe()}" for g in failed),
        )
    report.section("Predicted vs measured")
    report.prediction_table()
    path = report.write()
    print(f"wrote {path}; {len(report.predictions)} predictions{gate_summary(report)}")
    return path


def exit_status(report: Report) -> int:
    """The run's exit status: 1 if a gated prediction failed (each named on stderr), else 0."""
    failed = [g for g in report.gates if not g.passed]
    for g in failed:
        print(f"GATE FAILED: {g.describe()}", file=sys.stderr)
    if report.gates:
        print(f"{len(report.gates) - len(failed)} of {len(report.gates)} gates passed")
    return 1 if failed else 0


def gate_summary(report: Report) -> str:
    """``", max |z| = .. (gated as ..), fewest independent samples .."`` for a closing line."""
    rows = [p for p in report.predictions if np.isfinite(p.z)]
    if not rows:
        return ""
    worst = max(rows, key=lambda p: p.z_gate)
    out = f", max |z| = {abs(worst.z):.2f} (gated as {worst.z_gate:.2f}, dof {worst.dof:g})"
    n_eff = [p.n_eff for p in rows if p.n_eff is not None]
    return out + (f", fewest independent samples n_eff = {min(n_eff):g}" if n_eff else "")


def exact_gate(report: Report, z_limit: float) -> int:
    """Exit status of a validation run: 1 if an exact prediction's ``|z|`` exceeds ``z_limit``.

    Exact predictions are exact for the simulated process, so their z-scores are standard
    normal up to Monte Carlo error (t-distributed with the standard error's degrees of freedom:
    the gate compares :attr:`Prediction.z_gate`); prints each failing row.
    """
    bad = [p for p in report.predictions if p.exact and not p.z_gate <= z_limit]
    for p in bad:
        print(
            f"FAILED |z| <= {z_limit:g}: {p.name}: predicted {p.predicted:.6g}, "
            f"measured {p.measured:.6g} +- {p.stderr:.3g} (z = {p.z:+.2f})"
        )
    return 1 if bad else 0
