"""The bridge's report: every section whose phases are done, written after every phase.

:func:`write_report` builds ``report.md``, ``results.json`` and the figures in a fresh
temporary folder and swaps it in for ``OUT/report``: the folder always holds the files of one
write of one run (its run id is in both files), never a mix of two runs or a half-written set.
Sections whose phases are not done yet are listed as missing, so an interrupted or time-limited
run leaves a readable report. No torch import: the report half runs on any machine.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

from validation.report import Report, atomic_write_bytes

from . import sections_modes, sections_run, sections_seeds
from .settings import EXPERIMENTS, needed_phases

__all__ = ["SECTIONS", "write_report", "report_dir", "tarball"]

#: Experiments in report order, and the function that writes each.
SECTIONS = {
    "diffusion": sections_run.diffusion,
    "speed": sections_run.speed,
    "hessian": sections_modes.hessian,
    "phase": sections_modes.phase,
    "noise": sections_modes.noise,
    "energy": sections_seeds.energy,
    "conservation": sections_seeds.conservation,
}


def report_dir(out) -> Path:
    """Where the report of a run with output folder ``out`` lies."""
    return Path(out) / "report"


def _swap_in(tmp: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def tarball(folder: Path) -> Path:
    """``folder`` as ``folder.tar.gz`` beside it (written atomically); returns its path."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    path = folder.with_name(folder.name + ".tar.gz")
    atomic_write_bytes(path, buf.getvalue())
    return path


class _TextOnly(Report):
    """A report that lists its figures but draws none (the staged reports between phases)."""

    def figure(self, fig, filename: str, caption: str):
        import matplotlib.pyplot as plt

        plt.close(fig)
        self.blocks.append(f"*Figure {filename} ({caption}): drawn with the final report.*\n")


def write_report(out, res: dict, a, meta: dict, *, figures: bool = True) -> Path:
    """Write the report of everything in ``res`` (phase results) into ``OUT/report``.

    Parameters
    ----------
    out : path
        The run's output folder.
    res : dict
        Phase name -> result (``theta_star`` required), as :func:`.pipeline.run_phases` fills it.
    a : argparse.Namespace
        The finalized settings.
    meta : dict
        ``run_id``, ``command``, ``device``, ``amp``, ``channels_last``, ``source``, ``n_train``,
        ``n_test``, ``n_params``.
    figures : bool
        Draw the figures (False for the quick staged reports written between phases).

    Returns
    -------
    Path of ``report.md``.
    """
    final = report_dir(out)
    tmp = final.with_name(f".{final.name}.tmp-{meta['run_id']}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    title = (
        "ResNet bridge on linear regression (--model linear)"
        if a.model == "linear"
        else "ResNet-18 / CIFAR-10 bridge" + (" (smoke run)" if a.smoke else "")
    )
    rep = (Report if figures else _TextOnly)(tmp, title, command=meta["command"])
    phases = needed_phases(a.experiments)
    missing = [p for p in phases if p not in res]
    rep.text(
        f"Run id `{meta['run_id']}`"
        + (f"; profile {a.profile}" if a.profile else "")
        + ". "
        + (
            "Complete: every phase is done."
            if not missing
            else "Partial report: phases not done yet: "
            + ", ".join(missing)
            + " (rerun the same command with --resume to finish)."
        )
    )
    head = {"setup": sections_run.setup(rep, res, a, meta)}
    for name, write in SECTIONS.items():
        if name in a.experiments and all(p in res for p in EXPERIMENTS[name]):
            head[name] = write(rep, res, a)
    head["performance"] = sections_run.performance(rep, res, a)
    rep.section(
        "Predictions",
        "Every predicted-vs-measured row (z = (measured - predicted) / std. error; "
        "'approx': a model whose gap is being measured).",
    )
    rep.prediction_table()
    rep.value("run_id", meta["run_id"])
    rep.value("headline", head)
    rep.value("phases", phases)
    rep.value("missing", missing)
    rep.write()
    _swap_in(tmp, final)
    return final / "report.md"
