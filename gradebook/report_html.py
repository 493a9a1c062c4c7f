"""The report's page: typed blocks rendered by one Jinja2 template with autoescape.

Everything is inline in one file (no CDN, no network): the CSS, a little vanilla JavaScript
and the plots. Long sections are ``<details>`` (collapsed unless they are the summary), and
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
from jinja2 import Environment
from markupsafe import Markup, escape

PAGE_SIZE = 50  # rows per page of a table
SEARCH_FROM = 10  # tables with more rows get a search box and pager

_STYLE = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--bad:#b42318;--ok:#1a7f37}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);
  background:#fff;line-height:1.4}
main{max-width:1180px;margin:0 auto;padding:20px 28px 40px}
h1{margin:0 0 4px;font-size:26px}
section{margin:14px 0}
summary{cursor:pointer;list-style:none;border-bottom:1px solid var(--line);padding:4px 0}
summary::-webkit-details-marker{display:none}
summary::before{content:"\\25B8";display:inline-block;width:1.1em;color:var(--muted)}
details[open]>summary::before{content:"\\25BE"}
summary h2{display:inline;margin:0;font-size:19px}
summary .count{color:var(--muted);font-size:14px;margin-left:8px}
p.meta,p.hint{color:var(--muted);margin:6px 0 10px;font-size:14px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:8px 14px;
  min-width:110px}
.card b{display:block;font-size:22px}.card span{color:var(--muted);font-size:13px}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:10px}
.scroll{max-height:70vh;overflow-y:auto;overflow-x:hidden;border:1px solid var(--line);
  border-radius:6px}
table{border-collapse:collapse;font-size:13.5px;width:100%}
td,th{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;
  overflow-wrap:anywhere}
th{background:var(--bg);font-weight:600;position:sticky;top:0;cursor:pointer;
  user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even) td{background:#fbfcfd}
.pager{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin:6px 0;font-size:14px}
.pager input{flex:0 1 260px;min-width:0;padding:3px 8px;border:1px solid var(--line);
  border-radius:6px;font:inherit}
.pager button{font:inherit;padding:2px 10px;border:1px solid var(--line);border-radius:6px;
  background:var(--bg);cursor:pointer}
.pager button:disabled{opacity:.45;cursor:default}
.pager .info{color:var(--muted)}
img.plot{max-width:100%;height:auto;display:block;margin:8px 0;border:1px solid var(--line);
  border-radius:6px}
ol.pairs{margin:0;padding:4px 8px 4px 36px}
ol.pairs li{margin:2px 0}
ol.pairs details{margin:0}
ol.pairs summary{border:0;padding:2px 0}
ol.pairs summary::before{content:none}
ol.pairs .score{font-weight:600;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;margin:4px 0;
  background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:6px 8px}
pre b{display:block;font-family:system-ui,sans-serif;color:var(--muted);font-weight:600}
mark{background:#fff1b8}
.bad{color:var(--bad)}.ok{color:var(--ok)}.none{color:var(--muted);font-style:italic}
"""

_SCRIPT = """
(function () {
  "use strict";
  function pager(box) {
    var size = parseInt(box.getAttribute("data-page-size"), 10) || 50;
    var table = box.querySelector("table");
    var body = table ? table.tBodies[0] : box.querySelector("ol");
    var items = Array.prototype.slice.call(body.children);
    var info = box.querySelector(".info"), prev = box.querySelector(".prev");
    var next = box.querySelector(".next"), search = box.querySelector("input");
    var page = 0, query = "";
    function shown() {
      if (!query) return items;
      return items.filter(function (r) {
        return r.textContent.toLowerCase().indexOf(query) >= 0;
      });
    }
    function render() {
      var rows = shown(), pages = Math.max(1, Math.ceil(rows.length / size));
      page = Math.min(Math.max(page, 0), pages - 1);
      var first = page * size, last = Math.min(rows.length, first + size);
      items.forEach(function (r) { r.hidden = true; });
      rows.slice(first, last).forEach(function (r) { r.hidden = false; });
      if (info) {
        info.textContent = (rows.length ? "rows " + (first + 1) + "\\u2013" + last + " of " +
          rows.length : "no matching rows") + (query ? " (of " + items.length + ")" : "");
      }
      if (prev) prev.disabled = page <= 0;
      if (next) next.disabled = page >= pages - 1;
      if (body.parentNode && body.parentNode.parentNode) {
        var scroller = box.querySelector(".scroll");
        if (scroller) scroller.scrollTop = 0;
      }
    }
    function sortBy(index, th) {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      var numeric = th.classList.contains("num");
      table.querySelectorAll("thead th").forEach(function (h) {
        h.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      function key(row) {
        var cell = row.cells[index];
        var v = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
        return numeric ? parseFloat(v) : v.toLowerCase();
      }
      var keyed = items.map(function (r, i) { return [key(r), i, r]; });
      keyed.sort(function (a, b) {
        var x = a[0], y = b[0], order;
        if (numeric && (isNaN(x) || isNaN(y))) {
          order = isNaN(x) ? (isNaN(y) ? 0 : 1) : -1;  /* blanks last either way */
          return order || a[1] - b[1];
        }
        order = x < y ? -1 : x > y ? 1 : 0;
        return (ascending ? order : -order) || a[1] - b[1];
      });
      items = keyed.map(function (k) { return k[2]; });
      items.forEach(function (r) { body.appendChild(r); });
      page = 0;
      render();
    }
    if (prev) prev.addEventListener("click", function () { page -= 1; render(); });
    if (next) next.addEventListener("click", function () { page += 1; render(); });
    if (search) search.addEventListener("input", function () {
      query = search.value.trim().toLowerCase();
      page = 0;
      render();
    });
    if (table) {
      table.querySelectorAll("thead th").forEach(function (th, i) {
        th.tabIndex = 0;
        th.title = "Sort by " + th.textContent;
        th.addEventListener("click", function () { sortBy(i, th); });
        th.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(i, th); }
        });
      });
    }
    render();
  }
  document.querySelectorAll("[data-pager]").forEach(pager);
})();
"""

_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{ title }}</title><style>{{ style }}</style></head><body><main>
<h1>{{ title }}</h1>
<p class="meta">{{ meta }}</p>
<div class="cards">{% for n, label in cards %}<div class="card"><b>{{ n }}</b>
<span>{{ label }}</span></div>{% endfor %}</div>
{% for s in sections %}<section id="{{ s.id }}"><details{{ " open" if s.open }}>
<summary><h2>{{ s.title }}</h2>{% if s.count %}<span class="count">{{ s.count }}</span>{% endif %}
</summary>{% for hint in s.hints %}<p class="hint">{{ hint }}</p>{% endfor %}
{% for b in s.blocks %}{{ block(b) }}{% endfor %}
</details></section>
{% endfor %}</main><script>{{ script }}</script></body></html>
"""

_MACROS = """
{% macro controls(n, size) -%}
{% if n > search_from %}<div class="pager"><input type="search" aria-label="Filter rows"
placeholder="Filter rows"><button type="button" class="prev">&larr; Previous</button>
<button type="button" class="next">Next &rarr;</button><span class="info"></span></div>
{% endif %}
{%- endmacro %}
{% macro table(t) -%}
{% if not t.rows %}<p class="none">{{ t.empty }}</p>{% else -%}
<div class="tbl" id="{{ t.id }}" data-pager data-page-size="{{ t.page_size }}">
{{ controls(t.rows | length, t.page_size) }}<div class="scroll"><table><thead><tr>
{% for c in t.columns %}<th{{ ' class="num"' | safe if c in t.numeric }}>{{ c }}</th>{% endfor %}
</tr></thead><tbody>{% for row in t.rows %}<tr>{% for c in row %}
<td{{ ' class="num"' | safe if c.numeric }}{% if c.key is not none %} data-v="{{ c.key }}"
{%- endif %}>{{ c.text }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div></div>{% endif %}
{%- endmacro %}
{% macro pairs(p) -%}
{% if not p.pairs %}<p class="none">{{ p.empty }}</p>{% else -%}
<div class="tbl" id="{{ p.id }}" data-pager data-page-size="{{ p.page_size }}">
{{ controls(p.pairs | length, p.page_size) }}<div class="scroll"><ol class="pairs">
{% for x in p.pairs %}<li><details><summary><span class="score">{{ x.percent }}</span>
{{ x.assignment }}: {{ x.student_a }} and {{ x.student_b }}
<span class="hint">({{ x.student_a }} {{ x.share_a }}, {{ x.student_b }} {{ x.share_b }}
of their code shared)</span></summary><div class="grid2">
<pre><b>{{ x.student_a }}</b>{{ x.code_a }}</pre><pre><b>{{ x.student_b }}</b>{{ x.code_b }}</pre>
</div></details></li>
{% endfor %}</ol></div></div>{% endif %}
{%- endmacro %}
{% macro block(b) -%}
{% if b.kind == "table" %}{{ table(b) }}{% elif b.kind == "pairs" %}{{ pairs(b) }}
{% elif b.kind == "plot" %}{% if b.src %}<img class="plot" alt="{{ b.alt }}" src="{{ b.src }}">
{% else %}<p class="none">No data yet.</p>{% endif %}
{% else %}<p class="{{ b.css }}">{{ b.text }}</p>{% endif %}
{%- endmacro %}
"""


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
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    macros = env.from_string(_MACROS).make_module({"search_from": SEARCH_FROM})
    template = env.from_string(_TEMPLATE)
    return template.render(
        title=page.title,
        meta=page.meta,
        cards=page.cards,
        sections=page.sections,
        style=Markup(_STYLE),
        script=Markup(_SCRIPT),
        block=getattr(macros, "block"),  # noqa: B009 - a template macro
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
