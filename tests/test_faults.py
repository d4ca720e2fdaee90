"""Fault injection for the validation writers (validation.report): a process killed in the middle
of a write, a full disk, and an output folder reused by a second run. After each, no file at a
result's path is torn, no temporary file outlives the next run, and a folder never presents
one run's report beside another run's files (:func:`validation.report.verify_run`).
"""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import validation.report as report_module
from validation.report import MixedRunError, Report, new_figure, verify_run
from validation.runs import run_id_of

ROOT = Path(__file__).resolve().parents[1]

#: a run that writes one figure and then its report; ``os.fsync`` is wrapped so that the process
#: announces the file it is writing and, for the chosen one, waits there to be killed
WRITER = textwrap.dedent(
    """
    import os, sys, time
    import validation.report as r
    target, out = sys.argv[1], sys.argv[2]
    real_fsync = os.fsync
    def fsync(fd):
        real_fsync(fd)
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith("." + target + "."):
            print("writing", name, flush=True)
            time.sleep(600)
    os.fsync = fsync
    rep = r.Report(out, "killed", command="x", run_id="new" + "0" * 29)
    fig, ax = r.new_figure()
    ax.plot([0, 1])
    rep.figure(fig, "fig.png", "new", data={"y": [0, 1]})
    rep.write()
    """
)


def _complete_run(out, run_id, figures=("fig.png",)):
    rep = Report(out, "complete", command="x", run_id=run_id)
    for name in figures:
        fig, ax = new_figure()
        ax.plot([1, 0])
        rep.figure(fig, name, "old", data={"y": [1, 0]})
    rep.write()
    return rep


def _no_temporary_files(out):
    return [p.name for p in Path(out).iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("target", ["fig.png", "fig.npz", "results.json"])
def test_killed_mid_write(tmp_path, target):
    _complete_run(tmp_path, "old" + "0" * 29)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, target, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("writing"), line
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    # the killed write never reached its path (absent, or a complete file), and the folder is
    # not a finished run
    with pytest.raises(MixedRunError):
        verify_run(tmp_path)
    # the old report was removed when the new run began: a report present is the new run's
    if (tmp_path / "report.md").exists():
        assert "Run id: `new" in (tmp_path / "report.md").read_text()
    if (tmp_path / target).exists():  # a torn file would not parse
        assert run_id_of(tmp_path / target).startswith(("old", "new"))
    assert _no_temporary_files(tmp_path)  # the hidden temporary file is what was torn ...
    rep = _complete_run(tmp_path, "next" + "0" * 28)
    assert not _no_temporary_files(tmp_path)  # ... and the next run removes it
    assert verify_run(tmp_path) == rep.run_id


class _FullDisk:
    """A file object whose writes fail with ENOSPC after ``room`` bytes."""

    def __init__(self, f, room):
        self.f, self.room = f, room

    def write(self, data):
        if len(data) > self.room:
            self.f.write(data[: self.room])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.mark.parametrize("room", [0, 100])
def test_full_disk(tmp_path, monkeypatch, room):
    old = _complete_run(tmp_path / "a", "old" + "0" * 29)
    before = (tmp_path / "a" / "results.json").read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: _FullDisk(real_fdopen(fd, mode), room))
    # a single write: the previous content survives untouched, no temporary file is left
    with pytest.raises(OSError) as err:
        report_module.atomic_write_text(tmp_path / "a" / "results.json", "x" * 1000)
    assert err.value.errno == errno.ENOSPC
    assert (tmp_path / "a" / "results.json").read_bytes() == before
    assert not _no_temporary_files(tmp_path / "a")
    assert verify_run(tmp_path / "a") == old.run_id
    # a whole run on a full disk: nothing it started is left looking like a result
    with pytest.raises(OSError):
        _complete_run(tmp_path / "a", "new" + "0" * 29)
    assert not _no_temporary_files(tmp_path / "a")
    with pytest.raises(MixedRunError):
        verify_run(tmp_path / "a")


def test_reused_out_folder(tmp_path):
    _complete_run(tmp_path, "old" + "0" * 29, figures=("fig.png", "extra.png"))
    rep = _complete_run(tmp_path, "new" + "0" * 29, figures=("fig.png",))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fig.npz", "fig.pdf", "fig.png", "report.md", "results.json"]
    assert verify_run(tmp_path) == rep.run_id
    info = json.loads((tmp_path / "results.json").read_text())
    assert [f["file"] for f in info["figures"]] == ["fig.png"]
