"""Markdown tables as a GFM renderer sees them: every row must have its header's cell count.

Tables are located with markdown-it-py (so a ``|`` in prose or in a code block is not taken for
a table); each row of a table's source is split into cells the way GFM does, at every ``|``
not escaped by a backslash (GFM splits inside code spans too), after dropping the optional
leading and trailing pipe. markdown-it itself pads or truncates a row to the header's width,
which hides exactly the garbling this checks.
"""

from markdown_it import MarkdownIt

__all__ = ["cells", "bad_rows"]


def cells(row: str) -> int:
    """Number of cells GFM makes of one table row."""
    row = row.strip()
    bounds = [i for i, ch in enumerate(row) if ch == "|" and (i == 0 or row[i - 1] != "\\")]
    n = len(bounds) + 1
    if bounds and bounds[0] == 0:
        n -= 1
    if bounds and bounds[-1] == len(row) - 1 and len(row) > 1:
        n -= 1
    return n


def bad_rows(text: str) -> list[tuple[int, str]]:
    """``(line number, row)`` of every table row whose cell count differs from its header's."""
    lines = text.splitlines()
    md = MarkdownIt("commonmark").enable("table")
    out = []
    for tok in md.parse(text):
        if tok.type != "table_open" or tok.map is None:
            continue
        start, end = tok.map
        width = cells(lines[start])
        for i in range(start + 2, end):  # header, delimiter row, then the body
            if lines[i].strip() and cells(lines[i]) != width:
                out.append((i + 1, lines[i]))
    return out
