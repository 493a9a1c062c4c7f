"""A self-contained HTML report of the gradebook: totals, questions, tests, notes.

Plain tables for now; the plots (score distributions, pass rates as images) come with the
reporting issue. Student-facing feedback never includes expected values, and neither does
this page: it shows only what the gradebook holds.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from gradebook.export import per_student_table
from gradebook.frames import scores_by_question, scores_by_test, submissions

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}td.num{text-align:right}.bad{color:#a00}.ok{color:#070}
"""


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:g}")


def test_pass_rates(db_url: str) -> pd.DataFrame:
    """Per test: how many graded submissions passed it (which mistakes the class makes)."""
    tests = scores_by_test(db_url)
    if tests.empty:
        return pd.DataFrame(columns=["assignment", "test_id", "passed", "attempts", "pass_rate"])
    grouped = tests.groupby(["assignment", "question", "test_id"], as_index=False).agg(
        passed=("passed", "sum"), attempts=("passed", "size")
    )
    grouped["pass_rate"] = (grouped["passed"] / grouped["attempts"]).round(3)
    return grouped.sort_values(["assignment", "pass_rate", "test_id"])


def write_report(db_url: str, path: Path) -> Path:
    """Write the HTML report to ``path`` and return it."""
    subs = submissions(db_url)
    notes = subs[["student", "assignment", "status", "reason", "notices", "flags"]].copy()
    for column in ("notices", "flags"):
        notes[column] = notes[column].map(
            lambda v: "; ".join(v) if isinstance(v, list | tuple) else ""
        )
    notes = notes[
        (notes["reason"].fillna("") != "") | (notes["notices"] != "") | (notes["flags"] != "")
    ]
    questions = scores_by_question(db_url)
    per_question = questions.groupby(["assignment", "question"], as_index=False).agg(
        mean=("score", "mean"), max_score=("max_score", "first"), students=("student", "nunique")
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>GradeTape report</title>",
        f"<style>{_STYLE}</style></head><body><h1>GradeTape report</h1>",
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the gradebook.</p>",
        "<h2>Students</h2>",
        _table(per_student_table(db_url)),
        "<h2>Questions</h2>",
        _table(per_question),
        "<h2>Tests: pass rate</h2>",
        _table(test_pass_rates(db_url)),
        "<h2>Notes and review flags</h2>",
        _table(notes) if len(notes) else "<p>None.</p>",
        "</body></html>",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def escape(text: str) -> str:
    """HTML-escape ``text``."""
    return html.escape(text)
