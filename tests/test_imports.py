"""Importing the main modules loads no heavy module (numba and scipy.linalg included: they load on
first use) and compiles no kernel, even once the kernel modules are loaded.

Run in a fresh interpreter (the test process has imported everything already). Module sets, not
timings: ``python benchmarks/performance.py`` times the import.
"""

import json
import subprocess
import sys

PROBE = """
import json, sys
import dynlab.ou, dynlab.sgd, dynlab.integrators, dynlab.observables
light = sorted(sys.modules)
from dynlab.integrators import run  # loads numba and the kernel modules
from numba.core.dispatcher import Dispatcher
compiled = sorted(
    f"{name}.{attr}"
    for name, module in list(sys.modules.items())
    if name.startswith("dynlab")
    for attr, value in vars(module).items()
    if isinstance(value, Dispatcher) and value.signatures
)
kernels = sum(
    isinstance(value, Dispatcher)
    for name, module in list(sys.modules.items())
    if name.startswith("dynlab")
    for value in vars(module).values()
)
print(json.dumps({"modules": light, "compiled": compiled, "kernels": kernels}))
"""

#: Modules that take a large share of a second to import and that no import of dynlab needs.
HEAVY = (
    "numba",
    "scipy.linalg",
    "scipy.stats",
    "scipy.optimize",
    "scipy.special",
    "torch",
    "matplotlib",
    "sympy",
)


def probe() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def test_import_loads_no_heavy_module_and_compiles_no_kernel():
    result = probe()
    loaded = [m for m in HEAVY if m in result["modules"]]
    assert loaded == [], f"importing dynlab loaded {loaded}"
    # the probe sees the kernels (so an empty list below is not vacuous) ...
    assert result["kernels"] > 10
    # ... and none of them was compiled or loaded from numba's cache by importing them
    assert result["compiled"] == [], f"compiled at import: {result['compiled']}"


def test_every_public_name_of_the_lazy_zoo_resolves():
    # in a fresh interpreter: in this one the names are usually loaded already
    code = (
        "import sys, dynlab.integrators as zoo\n"
        "assert 'numba' not in sys.modules\n"
        "assert set(zoo.__all__) <= set(dir(zoo))\n"
        "missing = [n for n in zoo.__all__ if getattr(zoo, n, None) is None]\n"
        "assert missing == [], missing\n"
        "from dynlab.integrators import *\n"
        "assert callable(run) and 'heavy_ball' in SCHEMES\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
