"""The documentation builds with Sphinx (MyST pages, autodoc + numpydoc API reference) without a
single warning (Sphinx comes with the ``test`` extra, through ``docs``): every warning is an
error (``-W``), as a broken cross-reference, a malformed docstring table or an undefined
substitution (an unquoted ``|x|`` in a docstring) would be.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_without_warnings(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
        + ["-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = (tmp_path / "html" / "api.html").read_text(encoding="utf-8")
    for name in ("SGDPhaseSpace", "discrete_s", "HeavyBall", "verify_run"):
        assert name in html
    refs = (tmp_path / "html" / "references.html").read_text(encoding="utf-8")
    for arxiv in ("2107.09133", "2012.04728", "2511.07308"):
        assert arxiv in refs
