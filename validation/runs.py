"""Run ids: which run wrote each file of an output folder, and the check that they agree.

Every file :class:`validation.report.Report` writes carries the id of its run: ``results.json``
(key ``run_id``), ``report.md`` (a ``Run id:`` line), PNG figures (a ``run_id`` text chunk),
PDF figures (``run_id=...`` in the keywords) and figure data (``run_id`` in the ``.npz``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["MixedRunError", "figure_data", "figure_files", "run_id_of", "verify_run"]


class MixedRunError(RuntimeError):
    """The files of an output folder do not all come from one run (or the run is incomplete)."""


def figure_files(entry: dict) -> list[str]:
    """Files of one ``results.json`` figure entry: every format and the data file."""
    return list(entry.get("formats", {}).values()) + ([entry["data"]] if entry.get("data") else [])


def run_id_of(path: Path) -> str | None:
    """The run id recorded in a file this module wrote (None if it carries none)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8")).get("run_id")
    if suffix == ".md":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("Run id: `"):
                return line.split("`")[1]
        return None
    if suffix == ".npz":
        with np.load(path) as z:
            return str(z["run_id"]) if "run_id" in z.files else None
    if suffix == ".png":
        from PIL import Image

        with Image.open(path) as im:
            return im.text.get("run_id")
    data = path.read_bytes()  # PDF: the id is in the uncompressed keywords, "(run_id=<id>)"
    key = b"(run_id="
    at = data.find(key)
    if at < 0:
        return None
    start = at + len(key)
    return data[start : data.find(b")", start)].decode("ascii", "replace")


def verify_run(out_dir) -> str:
    """Check that ``report.md``, ``results.json`` and every listed figure file share one run id.

    Returns the run id; raises :class:`MixedRunError` naming the files that are missing or hold
    another run's id (e.g. after a run was interrupted in a reused output folder).
    """
    out_dir = Path(out_dir)
    results = out_dir / "results.json"
    if not results.exists():
        raise MixedRunError(f"{results} is missing: the run in {out_dir} did not finish")
    info = json.loads(results.read_text(encoding="utf-8"))
    run_id = info.get("run_id")
    files = ["report.md"] + [f for entry in info.get("figures", []) for f in figure_files(entry)]
    bad = []
    for name in files:
        path = out_dir / name
        found = run_id_of(path) if path.exists() else "missing"
        if found != run_id:
            bad.append(f"{name} ({found or 'no run id'})")
    if bad:
        raise MixedRunError(
            f"{out_dir} mixes runs: results.json is run {run_id} but " + ", ".join(bad)
        )
    return run_id


def figure_data(results_json, name: str) -> dict:
    """The plotted arrays saved beside figure ``name`` (its file name or stem) of a run.

    Reads ``results.json`` to find the figure's data file, checks that it carries the run's id
    and returns its arrays as a dict. Raises ``KeyError`` when the run has no such figure or
    saved no data for it.
    """
    results_json = Path(results_json)
    info = json.loads(results_json.read_text(encoding="utf-8"))
    stem = Path(name).stem
    for entry in info.get("figures", []):
        if Path(entry["file"]).stem == stem:
            if not entry.get("data"):
                raise KeyError(f"figure {name!r} of {results_json} has no saved data")
            path = results_json.parent / entry["data"]
            if run_id_of(path) != info.get("run_id"):
                raise MixedRunError(f"{path} is not from the run of {results_json}")
            with np.load(path) as z:
                return {k: z[k] for k in z.files if k != "run_id"}
    names = [e["file"] for e in info.get("figures", [])]
    raise KeyError(f"{results_json} has no figure {name!r}; it has {names}")
