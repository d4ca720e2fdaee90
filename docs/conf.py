"""Sphinx configuration: the docs/*.md pages (MyST) and an API reference (autodoc + numpydoc).

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (needs the ``docs`` extra).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dynlab  # noqa: E402

project = "dynlab"
author = "the dynlab developers"
release = version = dynlab.__version__
copyright = "the dynlab developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "contents"
exclude_patterns = ["_build", "figures"]

# MyST: $...$ math, and heading anchors so that [text](page.md#section) links resolve
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# numpydoc renders the docstrings' sections; it does not add a member table per class
numpydoc_show_class_members = False
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_member_order = "bysource"

html_theme = "alabaster"
