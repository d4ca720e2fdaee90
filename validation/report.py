"""One report format for every validation run: ``report.md``, ``results.json``, PNG figures.

A prediction row records predicted value, measured value, its standard error and the z-score
``(measured - predicted) / stderr``; ``exact`` marks predictions that are exact for the simulated
process (their |z| should be O(1)), as opposed to approximations whose gap is being measured.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Prediction", "Report", "atomic_write_bytes", "atomic_write_text", "new_figure"]


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

    def value(self, key: str, value) -> None:
        """Record a named result for results.json."""
        self.values[key] = value

    def figure(self, fig, filename: str, caption: str) -> Path:
        """Save ``fig`` as ``out_dir/filename`` (PNG, atomic), close it, link it in the report."""
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

        return _jsonable(
            {
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
    p.add_argument("--seed", type=int, default=seed, help="master seed (default: %(default)s)")
    return p


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that reproduces a run: ``python -m validation.<module>`` and its arguments."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join([f"python -m validation.{module}", *args])


def finish(report: Report) -> Path:
    """Close a report with the table of every prediction, write it and print a one-line summary."""
    report.section("Predicted vs measured")
    report.prediction_table()
    path = report.write()
    zs = [abs(p.z) for p in report.predictions if np.isfinite(p.z)]
    worst = f", max |z| = {max(zs):.2f}" if zs else ""
    print(f"wrote {path}; {len(report.predictions)} predictions{worst}")
    return path


def exact_gate(report: Report, z_limit: float) -> int:
    """Exit status of a validation run: 1 if an exact prediction's |z| exceeds ``z_limit``.

    Exact predictions are exact for the simulated process, so their z-scores are standard
    normal up to Monte Carlo error; prints each failing row.
    """
    bad = [p for p in report.predictions if p.exact and not abs(p.z) <= z_limit]
    for p in bad:
        print(
            f"FAILED |z| <= {z_limit:g}: {p.name}: predicted {p.predicted:.6g}, "
            f"measured {p.measured:.6g} +- {p.stderr:.3g} (z = {p.z:+.2f})"
        )
    return 1 if bad else 0
