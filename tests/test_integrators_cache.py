"""numba's on-disk cache for the integrator kernels is keyed by dynlab's sources.

A kernel inlines helpers from other files, so numba's own per-file key would serve stale
machine code after a helper is edited; the cache folder's key must change with any source.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from dynlab.integrators import _cache, _exact


@pytest.fixture
def package_copy(tmp_path):
    root = tmp_path / "dynlab"
    shutil.copytree(_cache.PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("edited", ["integrators/_rng.py", "integrators/_ops.py", "config.py"])
def test_editing_any_source_changes_the_key(package_copy, edited):
    before = _cache.source_key(package_copy)
    assert _cache.source_key(package_copy) == before  # deterministic
    path = package_copy / edited
    path.write_text(path.read_text() + "\n# edited\n")
    assert _cache.source_key(package_copy) != before


def test_a_copy_has_the_installed_key(package_copy):
    assert _cache.source_key(package_copy) == _cache.source_key()


def test_kernels_cache_under_the_keyed_folder(monkeypatch, tmp_path):
    folder = _cache.cache_base() / _cache.source_key()
    kernels = [v for v in vars(_exact).values() if isinstance(v, numba.core.registry.CPUDispatcher)]
    assert kernels
    for k in kernels:
        assert Path(k._cache._cache_path).parent == folder
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _cache.cache_base() == tmp_path


def test_import_is_light_and_every_import_path_salts_the_cache():
    # `import dynlab.integrators` must not import numba (it costs ~0.2 s); a kernel module reached
    # directly, without the package's public names, must still compile into the keyed folder.
    code = (
        "import sys, dynlab.integrators\n"
        "assert 'numba' not in sys.modules, 'import dynlab.integrators imported numba'\n"
        "import numba\n"
        "from dynlab.integrators import _rng, _cache\n"
        "folder = _cache.cache_base() / _cache.source_key()\n"
        "assert numba.config.CACHE_DIR == str(folder), numba.config.CACHE_DIR\n"
        "assert _rng.fill_normals._cache._cache_path.startswith(str(folder))\n"
        "from dynlab.integrators import run, SCHEMES\n"
        "assert 'heavy_ball' in SCHEMES and callable(run)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _tiny(x):  # compiled in the test, into a cache folder of its own
    return x + 1


def test_prune_removes_only_old_keyed_caches_beyond_the_newest(tmp_path, monkeypatch):
    # a real keyed folder: numba caches _tiny under <key>/<source dir>_<sha1>/*.nbi, *.nbc
    real = tmp_path / "real"
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(real))
    tiny = numba.njit(cache=True)(_tiny)
    assert tiny(1) == 2
    assert [p.suffix for p in real.rglob("*") if p.is_file()], "numba wrote no cache files"
    base = tmp_path / "base"
    base.mkdir()
    day = 86400.0
    now = 1.0e9

    def folder(name, age_days, extra=None):
        f = base / name
        shutil.copytree(real, f)
        if extra:
            (next(f.iterdir()) / extra).write_bytes(b"x")
        t = now - age_days * day
        os.utime(f, (t, t))
        return f

    keep = folder("0" * 16, 100)  # the running sources' folder: never removed, however old
    aged = [folder(f"{i:016x}", age) for i, age in enumerate([1, 2, 3, 8, 9, 30], start=1)]
    foreign = folder("f" * 16, 50, extra="notes.txt")  # not only numba's files
    other = folder("not-a-key", 50)
    removed = _cache.prune(base, keep, n_keep=3, days=7, now=now)
    # newest 3 kept (ages 1, 2, 3); of the rest, those older than 7 days go: 8, 9, 30
    assert sorted(removed) == sorted(aged[3:])
    assert all(not f.exists() for f in aged[3:])
    assert all(f.exists() for f in [keep, *aged[:3], foreign, other])
    # a second pass finds nothing more to remove
    assert _cache.prune(base, keep, n_keep=3, days=7, now=now) == []
