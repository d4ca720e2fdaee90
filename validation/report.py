"""One report format for every validation run: ``report.md``, ``results.json``, PNG figures.

A prediction row records predicted value, measured value, its standard error and the z-score
``(measured - predicted) / stderr``; ``exact`` marks predictions that are exact for the simulated
process (their |z| should be O(1)), as opposed to approximations whose gap is being measured.
A :class:`Gate` is an acceptance interval for a prediction's measured value: a run whose gated
row falls outside its interval fails (:func:`exit_status` returns 1 and names the row).
Files are written atomically (temporary file + rename), so a killed run never leaves a torn file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dynlab.errors import DynlabError

__all__ = [
    "Gate",
    "Prediction",
    "Report",
    "atomic_write_bytes",
    "atomic_write_text",
    "exit_status",
    "new_figure",
    "positive_int",
    "run_validation",
    "seed_int",
    "user_errors",
]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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


@dataclass
class Prediction:
    """One predicted-vs-measured row."""

    name: str
    predicted: float
    measured: float
    stderr: float
    exact: bool
    note: str = ""
    z: float = field(init=False)

    def __post_init__(self):
        self.predicted = float(self.predicted)
        self.measured = float(self.measured)
        self.stderr = float(self.stderr)
        self.z = (self.measured - self.predicted) / self.stderr if self.stderr > 0 else math.nan

    @property
    def rel_gap(self) -> float:
        """(measured - predicted) / |predicted|."""
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

    Parameters
    ----------
    out_dir : path
        Output folder (created).
    title : str
        Report title.
    command : str, optional
        The command line that produced it (defaults to ``sys.argv``).
    """

    def __init__(self, out_dir, title: str, *, command: str | None = None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.title = title
        self.command = (
            command
            if command is not None
            else "python -m " + " ".join([Path(sys.argv[0]).stem] + sys.argv[1:])
        )
        self.started = time.time()
        self.blocks: list[str] = []
        self.predictions: list[Prediction] = []
        self.values: dict = {}
        self.figures: list[dict] = []
        self.gates: list[Gate] = []

    def section(self, title: str, text: str = "") -> None:
        """Start a section with optional prose."""
        self.blocks.append(f"## {title}\n\n{text}\n" if text else f"## {title}\n")

    def text(self, text: str) -> None:
        """Append a paragraph."""
        self.blocks.append(text + "\n")

    def table(self, headers: list[str], rows: list[list]) -> None:
        """Append a markdown table; floats are printed with 4 significant digits."""

        def fmt(v):
            if isinstance(v, (float, np.floating)):
                return f"{float(v):.4g}"
            return str(v)

        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
        self.blocks.append("\n".join(lines) + "\n")

    def predict(
        self, name, predicted, measured, stderr, *, exact: bool, note: str = ""
    ) -> Prediction:
        """Record a prediction; returns the row (with its z-score)."""
        p = Prediction(name, predicted, measured, stderr, exact, note)
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

    def figure(self, fig, filename: str, caption: str) -> Path:
        """Save ``fig`` as ``out_dir/filename`` (PNG, atomically), close it and link it."""
        import io

        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        plt.close(fig)
        path = self.out_dir / filename
        atomic_write_bytes(path, buf.getvalue())
        self.figures.append({"file": filename, "caption": caption})
        self.blocks.append(f"![{caption}]({filename})\n\n*{caption}*\n")
        return path

    def prediction_table(self) -> None:
        """Append the table of every prediction recorded so far."""
        rows = [
            [
                p.name,
                p.predicted,
                p.measured,
                p.stderr,
                f"{p.z:+.2f}",
                "exact" if p.exact else "approx",
                p.note,
            ]
            for p in self.predictions
        ]
        self.table(["quantity", "predicted", "measured", "std. error", "z", "kind", "note"], rows)

    def results(self) -> dict:
        """Everything recorded, as a JSON-ready dict."""
        import dynlab

        gates = {"gates": [self._gate_json(g) for g in self.gates]} if self.gates else {}
        return _jsonable(
            {
                **gates,
                "title": self.title,
                "command": self.command,
                "elapsed_s": time.time() - self.started,
                "environment": {
                    "python": sys.version.split()[0],
                    "numpy": np.__version__,
                    "dynlab": dynlab.__version__,
                    "platform": platform.platform(),
                },
                "predictions": [asdict(p) for p in self.predictions],
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
        """Write ``report.md`` and ``results.json``; returns the report path."""
        head = f"# {self.title}\n\nCommand: `{self.command}`\n\n"
        atomic_write_text(self.out_dir / "report.md", head + "\n".join(self.blocks))
        atomic_write_text(
            self.out_dir / "results.json", json.dumps(self.results(), indent=2) + "\n"
        )
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
    zs = [abs(p.z) for p in report.predictions if np.isfinite(p.z)]
    worst = f", max |z| = {max(zs):.2f}" if zs else ""
    print(f"wrote {path}; {len(report.predictions)} predictions{worst}")
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
