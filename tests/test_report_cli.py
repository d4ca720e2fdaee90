"""Every command-line entry point answers ``--help`` without the optional extras, and the
progress bars obey ``TQDM_DISABLE`` and ``DYNLAB_PROGRESS``.

The CLIs run in a subprocess whose importer refuses torch (the ``bridge`` extra), as on an
installation without it.
"""

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dynlab import progress as progress_module

ROOT = Path(__file__).resolve().parents[1]

CLIS = [
    "validation.linear_regression",
    "validation.symmetry",
    "validation.thermo",
    "validation.energy_drift",
    "validation.resnet_bridge",
    "theory",
]

#: runs a module as ``python -m`` would, with every ``torch*`` import failing
BLOCKED = textwrap.dedent(
    """
    import runpy, sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision"):
                raise ImportError(f"{name} is blocked (optional extra not installed)")
    sys.meta_path.insert(0, Block())
    sys.argv = [sys.argv[1], "--help"]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    """
)


@pytest.mark.parametrize("module", CLIS)
def test_help_works_without_the_extras(module):
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED, module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout and "--help" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_the_blocker_blocks():
    code = BLOCKED.replace('sys.argv = [sys.argv[1], "--help"]', "import torch")
    proc = subprocess.run([sys.executable, "-c", code, "x"], capture_output=True, text=True)
    assert proc.returncode != 0 and "blocked" in proc.stderr


def _shown(monkeypatch, env, tty=False):
    for key in ("TQDM_DISABLE", "DYNLAB_PROGRESS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stream = io.StringIO()
    stream.isatty = lambda: tty
    monkeypatch.setattr(sys, "stderr", stream)
    bar = progress_module.progress(range(3), desc="x")
    shown = not bar.disable  # read before close(), which sets disable
    bar.close()
    return shown


@pytest.mark.parametrize(
    "env, tty, shown",
    [
        ({}, False, False),
        ({}, True, True),
        ({"TQDM_DISABLE": "1"}, True, False),
        ({"TQDM_DISABLE": "1", "DYNLAB_PROGRESS": "1"}, True, False),
        ({"TQDM_DISABLE": "0", "DYNLAB_PROGRESS": "1"}, False, True),
        ({"DYNLAB_PROGRESS": "0"}, True, False),
        ({"DYNLAB_PROGRESS": "1"}, False, True),
    ],
)
def test_progress_switches(monkeypatch, env, tty, shown):
    assert _shown(monkeypatch, env, tty) is shown
