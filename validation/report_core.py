"""The report of a validation run: :class:`Prediction` rows, :class:`Gate`s, :class:`Report`.

Re-exported by :mod:`validation.report`, whose docstring describes the format.
"""

from __future__ import annotations

import io
import json
import math
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .provenance import environment
from .report_files import (
    _TMP_PREFIX,
    _TMP_SUFFIX,
    _jsonable,
    atomic_write_bytes,
    atomic_write_text,
    drawn_arrays,
    escape_cell,
)
from .runs import figure_files, verify_run

#: Fewest degrees of freedom of a standard error that a gated (exact) prediction accepts. The
#: t-distribution has a finite variance only for dof > 2; with fewer, the estimated standard
#: error is too noisy for any z-score gate to mean something, and the run is refused.
MIN_GATE_DOF = 3

#: Formats every figure is saved in: PNG for the report, PDF (vector) for papers.
FIGURE_FORMATS = ("png", "pdf")


@dataclass
class Prediction:
    """One predicted-vs-measured row.

    ``dof`` is the number of degrees of freedom of ``stderr`` (``n - 1`` for ``n`` independent
    paths, ``inf`` for a known standard error); ``n_eff`` the effective number of independent
    samples behind the measurement (``None`` when not known).
    """

    name: str
    predicted: float
    measured: float
    stderr: float
    exact: bool
    note: str = ""
    dof: float = math.inf
    n_eff: float | None = None
    z: float = field(init=False)

    def __post_init__(self):
        self.predicted = float(self.predicted)
        self.measured = float(self.measured)
        self.stderr = float(self.stderr)
        self.dof = float(self.dof)
        self.z = (self.measured - self.predicted) / self.stderr if self.stderr > 0 else math.nan

    @property
    def p_value(self) -> float:
        """Two-sided tail probability of ``|z|`` under Student's t with ``dof`` degrees."""
        from scipy import stats

        if not math.isfinite(self.z):
            return math.nan
        return float(2.0 * stats.t.sf(abs(self.z), self.dof))

    @property
    def z_gate(self) -> float:
        """``|z|`` as the normal deviate with the same two-sided tail probability (t -> normal).

        Equals ``|z|`` for ``dof = inf``; smaller for few degrees of freedom, whose heavier tails
        make a large ``|z|`` likelier. A ``|z| <= 4`` gate compares this value.
        """
        from scipy import stats

        if not math.isfinite(self.z):
            return math.nan
        return float(stats.norm.isf(stats.t.sf(abs(self.z), self.dof)))

    @property
    def rel_gap(self) -> float:
        """``(measured - predicted) / |predicted|``."""
        return (
            (self.measured - self.predicted) / abs(self.predicted) if self.predicted else math.nan
        )


@dataclass(frozen=True)
class Gate:
    """Acceptance interval ``[low, high]`` for one prediction's measured value, with its reason."""

    prediction: Prediction
    low: float
    high: float
    reason: str

    @property
    def passed(self) -> bool:
        """True when the measured value lies in the interval (False for NaN)."""
        return bool(self.low <= self.prediction.measured <= self.high)

    def describe(self) -> str:
        """One line: the row, its measured value, the interval and the reason."""
        p = self.prediction
        return (
            f"{p.name}: measured {p.measured:.6g}, accepted [{self.low:.6g}, {self.high:.6g}] "
            f"({self.reason})"
        )


class Report:
    """Accumulates sections, tables, predictions and figures; :meth:`write` saves them.

    Starting a report in a folder that holds an earlier run removes that run's ``report.md``,
    ``results.json`` and figure files first (and leftovers of killed writes), so a run that
    dies half-way never leaves an old report describing new figures.

    Parameters
    ----------
    out_dir : path
        Output folder (created).
    title : str
        Report title.
    command : str, optional
        The command line that produced it (defaults to ``sys.argv``).
    run_id : str, optional
        Identifier written into every file (default: a fresh random 32-hex-digit id).
    """

    def __init__(self, out_dir, title: str, *, command: str | None = None, run_id=None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.title = title
        self.command = (
            command
            if command is not None
            else "python -m " + " ".join([Path(sys.argv[0]).stem] + sys.argv[1:])
        )
        self.run_id = run_id if run_id is not None else uuid.uuid4().hex
        self.started = time.time()
        self.blocks: list[str] = []
        self.predictions: list[Prediction] = []
        self.values: dict = {}
        self.figures: list[dict] = []
        self.gates: list[Gate] = []
        self._remove_previous_run()

    def _remove_previous_run(self) -> None:
        stale = [p for p in self.out_dir.glob(f"{_TMP_PREFIX}*{_TMP_SUFFIX}") if p.is_file()]
        results = self.out_dir / "results.json"
        if results.exists():
            try:
                old = json.loads(results.read_text(encoding="utf-8")).get("figures", [])
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                old = []
            stale += [self.out_dir / f for entry in old for f in figure_files(entry)]
        # the report and results go first: without them no file left behind claims to be a result
        for path in [self.out_dir / "report.md", results, *stale]:
            if path.resolve().parent == self.out_dir.resolve():
                path.unlink(missing_ok=True)

    def section(self, title: str, text: str = "") -> None:
        """Start a section with optional prose."""
        self.blocks.append(f"## {title}\n\n{text}\n" if text else f"## {title}\n")

    def text(self, text: str) -> None:
        """Append a paragraph."""
        self.blocks.append(text + "\n")

    def table(self, headers: list[str], rows: list[list]) -> None:
        """Append a markdown table (cells through :func:`escape_cell`)."""
        lines = [
            "| " + " | ".join(escape_cell(h) for h in headers) + " |",
            "|" + "---|" * len(headers),
        ]
        lines += ["| " + " | ".join(escape_cell(v) for v in r) + " |" for r in rows]
        self.blocks.append("\n".join(lines) + "\n")

    def predict(
        self,
        name,
        predicted,
        measured,
        stderr,
        *,
        exact: bool,
        note: str = "",
        dof: float = math.inf,
        n_eff: float | None = None,
    ) -> Prediction:
        """Record a prediction; returns the row (with its z-score).

        Raises ``ValueError`` for an exact (gated) prediction whose standard error has fewer
        than :data:`MIN_GATE_DOF` degrees of freedom: too few independent paths for a gate.
        """
        if exact and dof < MIN_GATE_DOF:
            raise ValueError(
                f"{name}: its standard error has {dof:g} degrees of freedom (paths - 1); a gated "
                f"prediction needs >= {MIN_GATE_DOF}: run more paths"
            )
        p = Prediction(name, predicted, measured, stderr, exact, note, dof, n_eff)
        self.predictions.append(p)
        return p

    def gate(self, prediction: Prediction, low: float, high: float, reason: str) -> Gate:
        """Accept ``prediction`` only if its measured value lies in ``[low, high]``."""
        g = Gate(prediction, float(low), float(high), reason)
        self.gates.append(g)
        return g

    def value(self, key: str, value) -> None:
        """Record a named result for results.json."""
        self.values[key] = value

    def figure(self, fig, filename: str, caption: str, data: dict | None = None) -> Path:
        """Save ``fig`` in every :data:`FIGURE_FORMATS` (atomically), close it, link it.

        ``filename`` is the PNG shown in the report (e.g. ``"displacement.png"``); the other
        formats go beside it under the same stem. ``data`` (name -> array) are the plotted
        arrays, saved beside as ``<stem>.npz`` so the figure can be redrawn (default: the
        figure's ``plotted_data`` attribute, which the figure functions of
        :mod:`validation.linreg.figures` set, else every array the figure draws,
        :func:`~validation.report_files.drawn_arrays`). Every file carries the run id. Returns the
        PNG's path.
        """
        import matplotlib.pyplot as plt

        if data is None:
            data = getattr(fig, "plotted_data", None) or drawn_arrays(fig)

        stem = Path(filename).stem
        formats = {}
        for fmt in FIGURE_FORMATS:
            buf = io.BytesIO()
            meta = (
                {"run_id": self.run_id, "Title": caption}
                if fmt == "png"
                else {"Title": caption, "Keywords": f"run_id={self.run_id}"}
            )
            fig.savefig(buf, format=fmt, dpi=120, metadata=meta)
            name = filename if fmt == "png" else f"{stem}.{fmt}"
            atomic_write_bytes(self.out_dir / name, buf.getvalue())
            formats[fmt] = name
        plt.close(fig)
        entry = {"file": filename, "caption": caption, "formats": formats, "data": None}
        if data is not None:
            buf = io.BytesIO()
            arrays = {k: np.asarray(v) for k, v in data.items()}
            np.savez_compressed(buf, run_id=np.array(self.run_id), **arrays)
            atomic_write_bytes(self.out_dir / f"{stem}.npz", buf.getvalue())
            entry["data"] = f"{stem}.npz"
        self.figures.append(entry)
        self.blocks.append(f"![{caption}]({filename})\n\n*{caption}*\n")
        return self.out_dir / filename

    def prediction_table(self) -> None:
        """Append the table of every prediction recorded so far."""
        rows = [
            [
                p.name,
                p.predicted,
                p.measured,
                p.stderr,
                f"{p.z:+.2f}",
                "inf" if math.isinf(p.dof) else f"{p.dof:g}",
                "" if p.n_eff is None else f"{p.n_eff:g}",
                "exact" if p.exact else "approx",
                p.note,
            ]
            for p in self.predictions
        ]
        head = ["quantity", "predicted", "measured", "std. error", "z", "dof", "n_eff", "kind"]
        self.table(head + ["note"], rows)

    def results(self) -> dict:
        """Everything recorded, as a JSON-ready dict."""
        gates = {"gates": [self._gate_json(g) for g in self.gates]} if self.gates else {}
        return _jsonable(
            {
                **gates,
                "title": self.title,
                "run_id": self.run_id,
                "command": self.command,
                "elapsed_s": time.time() - self.started,
                "environment": environment(),
                "predictions": [
                    {**asdict(p), "z_gate": p.z_gate, "p_value": p.p_value}
                    for p in self.predictions
                ],
                "values": self.values,
                "figures": self.figures,
            }
        )

    @staticmethod
    def _gate_json(g: Gate) -> dict:
        return {
            "name": g.prediction.name,
            "low": g.low,
            "high": g.high,
            "reason": g.reason,
            "passed": g.passed,
        }

    def write(self) -> Path:
        """Write ``report.md`` and ``results.json``, check the folder holds one run; return the
        report path (raises :class:`MixedRunError` if a file of another run is referenced)."""
        head = f"# {self.title}\n\nCommand: `{self.command}`\n\nRun id: `{self.run_id}`\n\n"
        atomic_write_text(self.out_dir / "report.md", head + "\n".join(self.blocks))
        atomic_write_text(
            self.out_dir / "results.json", json.dumps(self.results(), indent=2) + "\n"
        )
        verify_run(self.out_dir)
        return self.out_dir / "report.md"
