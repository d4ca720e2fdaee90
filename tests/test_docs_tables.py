"""Every markdown table of docs/*.md, README.md and of a generated report keeps its columns.

A ``|`` inside a cell (``||theta||`` in a formula) must be escaped or GFM splits the cell and
the row gains columns; :mod:`markdown_tables` counts cells as GFM does.
"""

from pathlib import Path

import pytest
from markdown_tables import bad_rows, cells

from validation.report import Report

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_doc_tables_keep_their_columns(page):
    assert bad_rows(page.read_text(encoding="utf-8")) == []


def test_generated_report_tables_keep_their_columns(tmp_path):
    rep = Report(tmp_path, "pipes", command="x")
    rep.table(
        ["quantity", "value | unit", "note"],
        [["E||theta_k - theta_0||^2", 1.5, "a | b\nc"], ["|x|", float("nan"), "`|y|`"]],
    )
    rep.predict("speed E||v||^2", 1.0, 1.0, 0.1, exact=True, note="| edge |")
    rep.prediction_table()
    rep.write()
    text = (tmp_path / "report.md").read_text()
    assert text.count("\n|") >= 6  # both tables are there
    assert bad_rows(text) == []


def test_the_checker_sees_a_broken_row():
    table = "| a | b |\n|---|---|\n| `x || y` | 2 |\n| 1 | 2 |\n"
    assert bad_rows(table) == [(3, "| `x || y` | 2 |")]
    assert cells("| a \\| b | c |") == 2
