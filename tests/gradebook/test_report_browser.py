"""The report of a synthetic class of 500 in headless Debian Chromium: short, fast, no
horizontal scrolling at 1280 px, and its tables sort and page.

Chromium comes from apt (``apt-get install -y chromium``), as in ``tests/test_browser.py``;
without it the test skips, except under CI (``CI=true``) where it fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gradebook.report import write_report
from gradebook.rows import read_rows

from ..browser_support import launch_chromium
from .synthetic import build_class

WIDTH, HEIGHT = 1280, 800
MAX_SCREENS = 8  # collapsed page height, in screens
MAX_LOAD_S = 10.0  # generous: the page loads in well under a second on an idle machine

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def report_500(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of 500 students x 2 assignments (about 950 graded notebooks)."""
    folder = tmp_path_factory.mktemp("report500")
    url = f"sqlite:///{folder / 'gb.db'}"
    build_class(url, students=500, assignments=2, pairs=60)
    return write_report(read_rows(url), folder / "report.html")


@pytest.fixture(scope="module")
def page(report_500: Path) -> Iterator[object]:
    with launch_chromium() as browser:
        tab = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        start = time.monotonic()
        tab.goto(report_500.as_uri(), wait_until="load")
        tab.load_seconds = time.monotonic() - start  # type: ignore[attr-defined]
        yield tab


def _height(page: object) -> int:
    return int(page.evaluate("document.documentElement.scrollHeight"))  # type: ignore[attr-defined]


def _no_horizontal_scroll(page: object) -> None:
    width, client = page.evaluate(  # type: ignore[attr-defined]
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= client, f"page is {width} px wide in a {client} px window"


def test_short_fast_and_no_wider_than_the_window(page, report_500: Path) -> None:
    height = _height(page)
    seconds = page.load_seconds
    print(f"500 students: {report_500.stat().st_size} bytes, {height} px tall, loads in "
          f"{seconds:.2f} s")  # fmt: skip
    assert height < MAX_SCREENS * HEIGHT
    assert seconds < MAX_LOAD_S
    _no_horizontal_scroll(page)
    page.screenshot(path="/tmp/gradetape-report-500.png", full_page=True)
    for details in page.locator("details").all():  # open everything: still no side scroll
        details.evaluate("d => d.open = true")
    _no_horizontal_scroll(page)
    print(f"500 students, every section and pair open: {_height(page)} px tall")
    page.reload()  # the other tests start from the page as it loads


def test_tables_sort_and_page(page) -> None:
    page.evaluate("document.getElementById('grades').querySelector('details').open = true")
    box = page.locator("#grades-table")
    rows = box.locator("tbody tr:not([hidden])")
    total = box.locator("tbody tr").count()  # the roster: students with any submission
    assert total > 450 and rows.count() == 50
    assert box.locator(".info").inner_text() == f"rows 1–50 of {total}"

    percent = box.locator("th", has_text="percent")
    column = [h.inner_text() for h in box.locator("th").all()].index("percent")
    percent.click()
    shown = [float(t) for t in rows.locator(f"td:nth-child({column + 1})").all_inner_texts()]
    assert shown == sorted(shown) and percent.get_attribute("aria-sort") == "ascending"
    percent.click()
    top = [float(t) for t in rows.locator(f"td:nth-child({column + 1})").all_inner_texts()]
    assert top == sorted(top, reverse=True) and top[0] >= shown[-1]

    first_page = rows.locator("td:first-child").all_inner_texts()
    box.locator("button.next").click()
    assert box.locator(".info").inner_text() == f"rows 51–100 of {total}"
    second_page = rows.locator("td:first-child").all_inner_texts()
    assert len(second_page) == 50 and not set(first_page) & set(second_page)
    box.locator("button.prev").click()
    assert rows.locator("td:first-child").all_inner_texts() == first_page

    target = next(s for s in second_page if s.startswith("s"))
    box.locator("input").fill(target)
    assert rows.locator("td:first-child").all_inner_texts() == [target]
    assert box.locator(".info").inner_text() == f"rows 1–1 of 1 (of {total})"


def test_similar_pairs_are_ranked_with_code_behind_a_click(page) -> None:
    page.evaluate("document.getElementById('similarity').querySelector('details').open = true")
    pairs = page.locator("#pairs-list li:not([hidden])")
    assert pairs.count() == 20  # paged
    scores = [int(t.rstrip("%")) for t in pairs.locator(".score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    code = pairs.first.locator("pre").first
    assert not code.is_visible()
    pairs.first.locator("summary").click()
    assert code.is_visible() and code.locator("mark").count() >= 1
    _no_horizontal_scroll(page)
