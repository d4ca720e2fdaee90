"""A numba cache that can never serve a stale kernel: its folder is keyed by dynlab's sources.

numba's on-disk cache (``cache=True``) keys each compiled function on its own file's time
stamp only. A kernel inlines its helpers (``_rng``, ``_ops``) and freezes module-level constants
(:mod:`dynlab.config`) at compile time, so after an edit of another file it would load machine
code built from the old helper. :func:`salt_numba_cache` points numba at a cache folder named by
a hash of every ``.py`` file of the dynlab package (and the numba and Python versions): any edit
anywhere gives a new folder, hence a recompile, and unchanged sources reuse their cache.

It must run before the kernels are decorated: numba fixes a function's cache folder when
``@njit(cache=True)`` runs, reading ``numba.config.CACHE_DIR`` (initialised from the
``NUMBA_CACHE_DIR`` environment variable when numba is imported). So this module salts the
cache when it is imported, and every kernel module takes ``njit`` from here, never from numba:
however a kernel module is reached (``dynlab.integrators.run``, or a direct import of a private
module), its kernels are decorated after the salting. The key folder is placed
under ``NUMBA_CACHE_DIR`` when that is set, else under ``$XDG_CACHE_HOME/dynlab-numba``
(``~/.cache/dynlab-numba``). Folders of other sources are pruned (:func:`prune`): those unused
for ``config.NUMBA_CACHE_KEEP_DAYS`` days beyond the ``config.NUMBA_CACHE_KEEP`` most recently
used, and only folders that are certainly such caches (a 16-hex-digit name holding numba's
per-source folders of ``.nbi``/``.nbc`` files and nothing else). numba's cache folder is a
process-wide setting: other numba code that runs after the zoo is first used caches there too.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numba

from .. import config

__all__ = ["source_key", "salt_numba_cache", "prune", "njit"]

_KEY = re.compile(r"[0-9a-f]{16}")
_SOURCE_DIR = re.compile(r".+_[0-9a-f]{40}")

#: Root of the package whose sources key the cache (dynlab/).
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def source_key(root: str | os.PathLike = PACKAGE_ROOT) -> str:
    """16 hex digits of SHA-256 over every ``.py`` file under ``root`` (relative path and
    content, in sorted order), numba's version and Python's."""
    h = hashlib.sha256()
    h.update(f"numba {numba.__version__} python {sys.version_info[:3]}".encode())
    root = Path(root)
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cache_base() -> Path:
    """Folder holding the keyed caches: ``NUMBA_CACHE_DIR`` if set, else the user cache."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "dynlab-numba"


def _is_key_cache(folder: Path) -> bool:
    """Whether ``folder`` is certainly a keyed cache: a 16-hex-digit name holding only numba's
    per-source folders (``<name>_<40 hex digits>``), which hold only ``.nbi``/``.nbc`` files."""
    if _KEY.fullmatch(folder.name) is None or not folder.is_dir():
        return False
    for sub in folder.iterdir():
        if not (sub.is_dir() and _SOURCE_DIR.fullmatch(sub.name)):
            return False
        if not all(f.is_file() and f.suffix in (".nbi", ".nbc") for f in sub.iterdir()):
            return False
    return True


def _mtime(folder: Path) -> float | None:
    try:
        return folder.stat().st_mtime
    except OSError:  # removed meanwhile by another process
        return None


def prune(base: Path, keep: Path, n_keep: int, days: float, now: float | None = None) -> list[Path]:
    """Remove keyed cache folders under ``base`` other than ``keep``: those beyond the ``n_keep``
    most recently modified and unmodified for ``days`` days. Returns the removed folders.

    Only folders that are certainly keyed numba caches are touched (:func:`_is_key_cache`); a
    folder that vanishes or cannot be read or removed meanwhile (another process) is skipped.
    """
    now = time.time() if now is None else now
    found = []
    try:
        for f in base.iterdir():
            if f != keep and _KEY.fullmatch(f.name) and (t := _mtime(f)) is not None:
                found.append((t, f))
    except OSError:
        return []
    found.sort(reverse=True)
    removed = []
    for t, f in found[n_keep:]:  # only these are read in full (a start-up cost otherwise)
        try:
            if now - t > days * 86400.0 and _is_key_cache(f):
                shutil.rmtree(f, ignore_errors=True)
                removed.append(f)
        except OSError:
            continue
    return removed


def salt_numba_cache() -> Path:
    """Set numba's cache folder to ``cache_base() / source_key()`` and prune old keyed folders
    beside it; returns the folder."""
    base = cache_base()
    folder = base / source_key()
    numba.config.CACHE_DIR = str(folder)
    try:
        os.utime(folder)  # marks it used: the pruning of other processes goes by modification time
    except OSError:
        pass  # not created yet: the first kernel compiled creates it
    prune(base, folder, config.NUMBA_CACHE_KEEP, config.NUMBA_CACHE_KEEP_DAYS)
    return folder


salt_numba_cache()

#: numba's ``njit``, to be imported from here by every kernel module (see the module docstring).
njit = numba.njit
