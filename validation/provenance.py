"""What reproduces a validation run: package versions, the git commit and the exact command line.

:func:`environment` is stored in every ``results.json``. Versions come from the installed
distributions' metadata (:mod:`importlib.metadata`), so an optional package such as torch is
reported without being imported, and as ``None`` when it is absent.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shlex
import subprocess
import sys
from pathlib import Path

__all__ = ["PACKAGES", "package_versions", "git_commit", "command_line", "environment"]

#: Distributions whose versions decide a run's numbers.
PACKAGES = ("numpy", "scipy", "numba", "sympy", "matplotlib", "torch")


def package_versions(packages=PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution, ``None`` where it is not installed."""
    out = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: str | Path | None = None) -> dict[str, str | bool | None]:
    """``{"commit": sha, "dirty": bool}`` of the checkout holding ``path`` (default: this code).

    Both are ``None`` when the code is not in a git checkout or git is not installed; ``dirty``
    says whether tracked files differ from the commit (the numbers may then not reproduce).
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha, "dirty": bool(status.strip())}


def command_line() -> dict[str, str | list[str]]:
    """The interpreter's exact command line (``sys.orig_argv``), as a list and shell-quoted."""
    argv = list(sys.orig_argv)
    return {"argv": argv, "shell": shlex.join(argv), "executable": sys.executable}


def environment() -> dict:
    """Python, platform, package versions, git state and command line of this process."""
    import dynlab

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "dynlab": dynlab.__version__,
        "packages": package_versions(),
        "git": git_commit(),
        "command_line": command_line(),
    }
