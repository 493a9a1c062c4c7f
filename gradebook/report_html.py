"""The report's page: typed blocks rendered by ``templates/report.html.j2`` with autoescape.

Everything is inline in one file (no CDN, no network): the one stylesheet
(``templates/style.css``), a little vanilla JavaScript (``templates/report.js``) and the
plots. Long sections are ``<details>`` (collapsed unless they are the summary), and
every table is sortable (click a header; numbers sort as numbers), paged (``page_size``
rows) with a search box, and scrolls inside a box at most one screen tall, so the page
stays short at any class size. Nothing is wider than the window at 1280 px: cells and code
wrap. Without JavaScript every row is still in the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd
from markupsafe import Markup, escape

from gradebook.pages import asset, render

PAGE_SIZE = 50  # rows per page of a table
SEARCH_FROM = 10  # tables with more rows get a search box and pager


@dataclass(frozen=True)
class Cell:
    """One table cell: the text shown and, for numbers, the key it sorts by."""

    text: str
    key: str | None = None
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    """A sortable, paged table (``rows`` of :class:`Cell`)."""

    kind: ClassVar[str] = "table"
    id: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    numeric: frozenset[str] = frozenset()
    empty: str = "No rows."
    page_size: int = PAGE_SIZE


@dataclass(frozen=True)
class Plot:
    """An inline image (``src`` a ``data:`` URI; "" shows "No data yet.")."""

    kind: ClassVar[str] = "plot"
    src: str
    alt: str


@dataclass(frozen=True)
class Text:
    """A paragraph (``css``: ``hint``, ``none`` or ``meta``)."""

    kind: ClassVar[str] = "text"
    text: str
    css: str = "hint"


@dataclass(frozen=True)
class Pair:
    """One similar pair, ready to show (``code_*`` already marked up)."""

    assignment: str
    student_a: str
    student_b: str
    percent: str
    share_a: str
    share_b: str
    code_a: Markup
    code_b: Markup


@dataclass(frozen=True)
class Pairs:
    """The ranked list of similar pairs, each with its code in a ``<details>``."""

    kind: ClassVar[str] = "pairs"
    id: str
    pairs: tuple[Pair, ...]
    empty: str = "No similar pairs."
    page_size: int = 20


Block = Table | Plot | Text | Pairs


@dataclass(frozen=True)
class Section:
    """A collapsible section of the report."""

    id: str
    title: str
    blocks: tuple[Block, ...]
    hints: tuple[str, ...] = ()
    count: str = ""
    open: bool = False


@dataclass(frozen=True)
class Page:
    """The whole report."""

    title: str
    meta: str
    cards: tuple[tuple[int, str], ...]
    sections: tuple[Section, ...] = field(default_factory=tuple)


def render_page(page: Page) -> str:
    """The page as one self-contained HTML document (every value escaped)."""
    return render(
        "report.html.j2",
        title=page.title,
        meta=page.meta,
        cards=page.cards,
        sections=page.sections,
        search_from=SEARCH_FROM,
        script=asset("report.js"),
    )


def frame_table(
    frame: pd.DataFrame,
    id: str,
    *,
    numbers: Mapping[str, str] | None = None,
    empty: str = "No rows.",
    page_size: int = PAGE_SIZE,
) -> Table:
    """A :class:`Table` of a DataFrame.

    Numbers are formatted by ``numbers`` (column -> format, default ``{:g}``) and sort as
    numbers; booleans show as "yes", lists joined with commas, missing values blank.
    """
    numbers = numbers or {}
    columns = tuple(str(c) for c in frame.columns)
    numeric = frozenset(
        str(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    )
    rows = tuple(
        tuple(_cell(value, numbers.get(c, "{:g}")) for c, value in zip(columns, row, strict=True))
        for row in frame.itertuples(index=False)
    )
    return Table(id, columns, rows, numeric, empty, page_size)


def _cell(value: object, number: str) -> Cell:
    if isinstance(value, bool):
        return Cell("yes" if value else "")
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return Cell("", "", numeric=True)
        return Cell(number.format(value), repr(float(value)), numeric=True)
    if isinstance(value, list | tuple):
        return Cell(", ".join(map(str, value)))
    if value is None or (not isinstance(value, Sequence) and pd.isna(value)):
        return Cell("")
    return Cell(str(value))


def mark_shared(code: str, start: str = "[[", end: str = "]]") -> Markup:
    """Escape ``code`` and turn its ``[[shared]]`` markers into ``<mark>`` (always balanced)."""
    out: list[str] = []
    inside = False
    i = 0
    while i < len(code):
        token = end if inside else start
        j = code.find(token, i)
        if j < 0:
            out.append(str(escape(code[i:])))
            break
        out.append(str(escape(code[i:j])))
        out.append("</mark>" if inside else "<mark>")
        inside = not inside
        i = j + len(token)
    if inside:
        out.append("</mark>")
    return Markup("".join(out))
