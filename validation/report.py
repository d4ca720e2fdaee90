"""One report format for every validation run: ``report.md``, ``results.json``, figures.

A prediction row records predicted value, measured value, its standard error and the z-score
``(measured - predicted) / stderr``; ``exact`` marks predictions that are exact for the simulated
process (their ``|z|`` should be O(1)), as opposed to approximations whose gap is being measured.
A standard error estimated from ``n`` independent paths has ``n - 1`` degrees of freedom, so its
z is t-distributed: :attr:`Prediction.z_gate` converts it to the normal deviate of equal tail
probability, and that is what a ``|z| <= 4`` gate compares.

Files are written atomically (temporary file + rename, with the permissions the umask gives a
new file), so a killed run never leaves a torn file. Every file a run writes carries its run id
(``results.json``, ``report.md``, each figure's metadata and data file); :meth:`Report.write`
and :func:`verify_run` refuse a folder whose files come from different runs.
A :class:`Gate` is an acceptance interval for a prediction's measured value: a run whose gated
row falls outside its interval fails (:func:`exit_status` returns 1 and names the row).
"""

from __future__ import annotations

from .report_cli import (
    OUT_FIX,
    cli_parser,
    command_line,
    positive_int,
    run_validation,
    seed_int,
    user_errors,
)
from .report_core import FIGURE_FORMATS, MIN_GATE_DOF, Gate, Prediction, Report
from .report_files import atomic_write_bytes, atomic_write_text, escape_cell, new_figure
from .report_gates import exact_gate, exit_status, finish, gate_summary
from .runs import MixedRunError, verify_run

__all__ = [
    "Gate",
    "Prediction",
    "Report",
    "MixedRunError",
    "atomic_write_bytes",
    "atomic_write_text",
    "escape_cell",
    "exit_status",
    "new_figure",
    "positive_int",
    "run_validation",
    "verify_run",
    "MIN_GATE_DOF",
    "FIGURE_FORMATS",
    "seed_int",
    "user_errors",
    "OUT_FIX",
    "cli_parser",
    "command_line",
    "exact_gate",
    "finish",
    "gate_summary",
]
