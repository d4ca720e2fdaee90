"""The layering of dynlab, checked on its source.

* dynlab's modules import one way: no import cycle among them (module-level imports, imports
  inside functions and relative imports all count), and dynlab never imports theory/,
  validation/ or torch.
* One home per formula: the SDE constants of heavy ball (kappa, c1, c2, gamma, the stability
  limit 2 (1 + beta)) are written in dynlab.hyper only, and the PSD square root in
  dynlab._linalg only, across dynlab/ and validation/.

Each check is a pure function of a source tree, so the tests below also plant a violation in
a copy and show that the check catches it.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from dynlab import modes
from dynlab.errors import HyperparameterError
from dynlab.hyper import HeavyBall
from dynlab.integrators import SCHEMES, run
from dynlab.models import QuadraticProblem

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("theory", "validation", "torch")


# ------------------------------------------------------------------ import graph
def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path, package: str = "dynlab") -> dict[str, Path]:
    return {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Absolute names of everything ``path`` imports (any depth in the file)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            subs = {f"{target}.{a.name}" for a in node.names} & set(known)
            if len(subs) < len(node.names):  # some name comes from the module ``target`` itself
                out.add(target)
            out.update(subs)  # ``from . import config``: the submodule config
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Edges module -> imported names for every module of dynlab under ``root``."""
    known = _modules(root)
    return {name: _imports(name, path, known) for name, path in known.items()}


def forbidden_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted(
        (mod, imp) for mod, imps in graph.items() for imp in imps if imp.split(".")[0] in FORBIDDEN
    )


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle among dynlab's modules (as a list of names), or None."""
    edges = {m: sorted(i for i in imps if i in graph and i != m) for m, imps in graph.items()}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in edges[m]:
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_dynlab_imports_form_no_cycle():
    assert import_cycle(import_graph(ROOT)) is None


def test_dynlab_never_imports_theory_validation_or_torch():
    assert forbidden_imports(import_graph(ROOT)) == []


def test_public_entry_points_still_import():
    from dynlab.ou import OUProcess, SGDPhaseSpace
    from dynlab.sgd import DiscreteSGD, Equipartition
    from dynlab.sgd import SGDPhaseSpace as S2

    assert SGDPhaseSpace is S2 and OUProcess.__module__ == "dynlab.ou_process"
    assert DiscreteSGD.__module__ == "dynlab.sgd_discrete"
    assert Equipartition.__module__ == "dynlab.sgd_observables"


def _copy_dynlab(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "dynlab", tmp_path / "dynlab", ignore=shutil.ignore_patterns("__py*"))
    return tmp_path


def test_the_import_checks_catch_planted_violations(tmp_path):
    root = _copy_dynlab(tmp_path)
    with open(root / "dynlab" / "_linalg.py", "a") as f:  # a cycle through an in-function import
        f.write(
            "\n\ndef _planted():\n    from .sgd import SGDPhaseSpace\n\n    return SGDPhaseSpace\n"
        )
    with open(root / "dynlab" / "hyper.py", "a") as f:
        f.write("\n\ndef _planted():\n    import torch\n\n    return torch\n")
    graph = import_graph(root)
    cycle = import_cycle(graph)
    assert cycle is not None and "dynlab._linalg" in cycle and "dynlab.sgd" in cycle
    assert forbidden_imports(graph) == [("dynlab.hyper", "torch")]


# ------------------------------------------------------------------ one home per formula
_B = r"(?:[\w.]*(?:momentum|beta)\b|[\w.]*\[\'momentum\'\])"  # beta as the code spells it
_P = rf"(?:\(1(?:\.0)? \+ {_B}\)|[\w.]*one_plus_beta)"  # 1 + beta
_Q = rf"\(1(?:\.0)? - {_B}\)"  # 1 - beta
_LR = r"[\w.]*(?:lr|\[\'lr\'\])"

#: Each SDE constant of heavy ball (Kunin et al. 2021, arXiv:2107.09133, eq. 3-4) in the ways
#: code writes it; dynlab.hyper.HeavyBall is its one home.
FORMULAS = {
    "kappa = S (1 - beta)(1 + beta)": rf"{_Q} \* {_P}|1(?:\.0)? - {_B} \*\* 2",
    "c1 = 2 / (lr (1 + beta))": rf"2(?:\.0)? / \({_LR} \* {_P}\)",
    "c2 = 2 (1 - beta) / (lr (1 + beta))": rf"{_Q} \* [\w.]*c1\b|2(?:\.0)? \* {_Q} / \({_LR}",
    "gamma = (1 - beta) / (lr (1 + beta))": rf"0\.5 \* [\w.]*c2\b|{_Q} / \({_LR} \* {_P}\)",
    "stability limit 2 (1 + beta)": rf"2(?:\.0)? \* {_P}",
}
HOMES = {name: "dynlab/hyper.py" for name in FORMULAS}
HOMES["PSD square root"] = "dynlab/_linalg.py"

#: Copies in modules whose owners have yet to call the one home (file: formulas). A new copy
#: anywhere fails the test; so does a copy that is gone but still listed here.
KNOWN_COPIES = {
    "dynlab/testing/strategies.py": {"stability limit 2 (1 + beta)"},
}


class _Blank(ast.NodeTransformer):
    """Empty docstrings, messages and f-strings: formulas in prose are not definitions."""

    def visit_JoinedStr(self, node):
        return ast.Constant("")

    def visit_Constant(self, node):
        if isinstance(node.value, str) and (" " in node.value or len(node.value) > 20):
            return ast.Constant("")
        return node


def _code(path: Path) -> str:
    return ast.unparse(_Blank().visit(ast.parse(path.read_text(), str(path))))


def _psd_sqrt_defs(tree: ast.AST) -> int:
    """Functions that take ``eigh`` and clip its eigenvalues under a square root."""
    n = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            src = ast.unparse(node)
            n += "eigh(" in src and "sqrt(np.clip(" in src
    return n


def formula_homes(root: Path) -> dict[str, set[str]]:
    """``{file: {formula, ...}}`` for every file of dynlab/ and validation/ that writes one."""
    found: dict[str, set[str]] = {}
    for top in ("dynlab", "validation"):
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            code = _code(path)
            names = {name for name, pat in FORMULAS.items() if re.search(pat, code)}
            if _psd_sqrt_defs(ast.parse(path.read_text(), str(path))):
                names.add("PSD square root")
            if names:
                found[rel] = names
    return found


def _check_formulas(found: dict[str, set[str]]) -> list[str]:
    problems = []
    for name, home in HOMES.items():
        if name not in found.get(home, set()):
            problems.append(f"{name}: not found in its home {home}")
    for rel, names in found.items():
        extra = {n for n in names if HOMES[n] != rel} - KNOWN_COPIES.get(rel, set())
        if extra:
            problems.append(f"{rel} writes {sorted(extra)} again: call {HOMES[sorted(extra)[0]]}")
    for rel, names in KNOWN_COPIES.items():
        stale = names - found.get(rel, set())
        if stale:
            problems.append(f"{rel} no longer writes {sorted(stale)}: drop it from KNOWN_COPIES")
    return problems


def test_each_sde_constant_and_the_psd_sqrt_has_one_home():
    assert _check_formulas(formula_homes(ROOT)) == []


@pytest.mark.parametrize(
    "plant, formula",
    [
        ("kappa = S * (1 - momentum ** 2)", "kappa = S (1 - beta)(1 + beta)"),
        ("c1 = 2.0 / (lr * (1.0 + momentum))", "c1 = 2 / (lr (1 + beta))"),
        ("c2 = 2.0 * (1.0 - beta) / (lr * p)", "c2 = 2 (1 - beta) / (lr (1 + beta))"),
        ("gamma = (1.0 - beta) / (lr * (1.0 + beta))", "gamma = (1 - beta) / (lr (1 + beta))"),
        ("limit = 2.0 * (1.0 + self.momentum)", "stability limit 2 (1 + beta)"),
        (
            "def root(C):\n    w, V = np.linalg.eigh(C)\n"
            "    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T",
            "PSD square root",
        ),
    ],
)
def test_the_formula_check_catches_a_planted_copy(tmp_path, plant, formula):
    _copy_dynlab(tmp_path)
    (tmp_path / "validation").mkdir()
    for rel in KNOWN_COPIES:
        if rel.startswith("validation/"):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, tmp_path / rel)
    (tmp_path / "validation" / "planted.py").write_text(f"import numpy as np\n\n{plant}\n")
    problems = _check_formulas(formula_homes(tmp_path))
    assert problems == [f"validation/planted.py writes {[formula]!r} again: call {HOMES[formula]}"]


# ------------------------------------------------------------------ one hyperparameter object
def test_one_heavy_ball_reaches_the_closed_forms_and_the_integrators():
    kw = dict(lr=0.2, momentum=0.7, weight_decay=0.01, batch_size=3)
    hp = HeavyBall(**kw)
    rho = np.array([2.0, 0.5])
    three = {k: kw[k] for k in ("lr", "momentum", "weight_decay")}
    for a, b in zip(modes.sde_rates(rho, hyper=hp), modes.sde_rates(rho, **three)):
        np.testing.assert_array_equal(a, b)
    quad = QuadraticProblem(np.diag(rho), [1.0, 0.0], noise_cov=0.1 * np.eye(2))
    common = dict(n_paths=3, n_steps=20, seed=7)
    with_object = run("heavy_ball", quad, hyper=hp, **common)
    with_keywords = run("heavy_ball", quad, **kw, **common)
    np.testing.assert_array_equal(with_object.theta, with_keywords.theta)  # same bits
    assert with_object.hyper == with_keywords.hyper
    sde = SCHEMES["euler_maruyama"](quad, dict(kw), quad.noise_cov)
    assert (sde.c1, sde.c2, sde.kappa) == (hp.c1, hp.c2, hp.kappa)
    with pytest.raises(HyperparameterError, match="not both"):
        run("heavy_ball", quad, hyper=hp, lr=0.2, **common)
    with pytest.raises(HyperparameterError, match="use scheme 'nesterov'"):
        run("heavy_ball", quad, hyper=hp.replace(nesterov=True), **common)
    run("nesterov", quad, hyper=hp.replace(nesterov=True), **common)
