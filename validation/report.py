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

import argparse
import io
import json
import math
import os
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dynlab.errors import DynlabError

from .provenance import environment
from .runs import MixedRunError, figure_files, verify_run

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
]

#: Fewest degrees of freedom of a standard error that a gated (exact) prediction accepts. The
#: t-distribution has a finite variance only for dof > 2; with fewer, the estimated standard
#: error is too noisy for any z-score gate to mean something, and the run is refused.
MIN_GATE_DOF = 3

#: Formats every figure is saved in: PNG for the report, PDF (vector) for papers.
FIGURE_FORMATS = ("png", "pdf")

#: Prefix and suffix of the temporary files of an atomic write; leftovers of a killed write
#: are removed when the next run starts in the same folder.
_TMP_PREFIX, _TMP_SUFFIX = ".", ".tmp"


def _file_mode() -> int:
    """Permission bits of a newly created file under the current umask (0644 for umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file gets the permissions the umask gives any new file; on any error (a full disk, an
    interrupt) the temporary file is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f"{_TMP_PREFIX}{path.name}.", suffix=_TMP_SUFFIX
    )
    try:
        os.fchmod(fd, _file_mode())  # mkstemp creates 0600; give the file a normal file's mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(x):
    """Convert numpy scalars/arrays (recursively) to JSON types; non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """A matplotlib (Agg) figure and axes; the backend never needs a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kwargs.setdefault("figsize", (4.8 * ncols, 3.6 * nrows))
    kwargs.setdefault("constrained_layout", True)
    return plt.subplots(nrows, ncols, **kwargs)


def escape_cell(value) -> str:
    """A markdown table cell: floats with 4 significant digits, ``|`` escaped, one line."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return " ".join(str(value).split()).replace("|", "\\|")


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
        :mod:`validation.linreg.figures` set). Every file carries the run id. Returns the PNG's
        path.
        """
        import matplotlib.pyplot as plt

        if data is None:
            data = getattr(fig, "plotted_data", None)

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


def cli_parser(module: str, doc: str, *, seed: int, quick_help: str) -> argparse.ArgumentParser:
    """The options every validation script shares: ``--quick``, ``--out`` and ``--seed``.

    Parameters
    ----------
    module : str
        The script's module name, e.g. ``"symmetry"`` for ``python -m validation.symmetry``;
        the default output folder is ``runs/<module>``.
    doc : str
        The module docstring; its first paragraph is the description.
    seed : int
        Default master seed.
    quick_help : str
        What ``--quick`` does (shown by ``--help``).
    """
    p = argparse.ArgumentParser(
        prog=f"python -m validation.{module}", description=doc.split("\n\n")[0]
    )
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", default=f"runs/{module}", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=seed_int, default=seed, help="master seed (default: %(default)s)")
    return p


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that reproduces a run: ``python -m validation.<module>`` and its arguments."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join([f"python -m validation.{module}", *args])


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


def run_validation(
    module: str, doc: str, title: str, run_all, *, seed: int, quick_help: str, argv=None
) -> int:
    """The ``main`` of a validation script: options, report, ``run_all``, files, exit status.

    Parses ``--quick``, ``--out`` and ``--seed`` (:func:`cli_parser`), calls
    ``run_all(quick, seed, report)``, writes the report (:func:`finish`) and returns
    :func:`exit_status`: 1 if a gated prediction failed.
    """
    parser = cli_parser(module, doc, seed=seed, quick_help=quick_help)
    args = parser.parse_args(argv)
    with user_errors(parser, "--out", OUT_FIX):
        report = Report(args.out, title, command=command_line(module, argv))
    run_all(args.quick, args.seed, report)
    finish(report)
    return exit_status(report)


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


#: The fix named when ``--out`` cannot be created or written.
OUT_FIX = "choose a folder you can create and write"


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}; got {value}")
    return value


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer >= 1 (``0`` is an error, never read as "the default")."""
    return _int_at_least(text, 1)


def seed_int(text: str) -> int:
    """An ``argparse`` type for ``--seed``: an integer >= 0, as numpy's seeds are."""
    return _int_at_least(text, 0)


@contextmanager
def user_errors(parser: argparse.ArgumentParser, option: str, fix: str):
    """Report a bad option as argparse does: one line ``prog: error: ...``, exit status 2.

    Wraps the code that turns options into a model or reads the files they name: a
    :class:`dynlab.errors.DynlabError` (a value outside its domain) or an ``OSError`` (a missing
    or unreadable path) raised there becomes ``option: <what is wrong>; <fix>``. Errors raised
    elsewhere are bugs and keep their traceback.
    """
    try:
        yield
    except (DynlabError, OSError) as exc:
        parser.error(f"{option}: {exc}; {fix}")
