"""A self-contained HTML report of the gradebook, for instructors, readable at any class size.

One file, no external resources (plots are inline PNGs, the CSS and the few lines of
JavaScript are inline). Summary first: the score distribution, each question's pass rate
(with why the rest failed: a known mistake, unknown, or not attempted) and the
misconceptions, each section about one screen. Everything long follows in collapsed
sections whose tables are sortable, paged and searchable (:mod:`gradebook.report_html`):
course grades, similar submissions (a ranked list, code behind a click), every test's pass
rate, question scores, the time grading took, review flags, notices, rejections and missing
work. It shows only what the gradebook holds; messages there are already student-safe.

Rendering computes from the :class:`~gradebook.rows.Rows` read once by the caller
(:func:`~gradebook.rows.read_rows`); the page is ``templates/report.html.j2``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from gradebook import report_plots as plots
from gradebook.failures import misconception_table, question_outcomes, with_causes
from gradebook.frames import scores_by_student, scores_by_test, submissions
from gradebook.grades import course_grades, missing_submissions
from gradebook.policy import GradingPolicy
from gradebook.report_html import (
    Page,
    Pair,
    Pairs,
    Plot,
    Section,
    Text,
    frame_table,
    mark_shared,
    render_page,
)
from gradebook.rows import Rows
from gradebook.similarity import similar_submissions
from gradebook.summaries import assignment_summary, pass_rates, question_summary

__all__ = ["misconception_table", "render_report", "write_report"]


def write_report(rows: Rows, path: Path, policy: GradingPolicy | None = None) -> Path:
    """Write the HTML report to ``path`` and return it.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        path: The HTML file to write (parents are created).
        policy: Grading policy for the course grades (default: :class:`GradingPolicy`).

    Returns:
        ``path``.
    """
    path = Path(path)
    html_text = render_report(rows, policy)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_text, encoding="utf-8")
    return path


def render_report(rows: Rows, policy: GradingPolicy | None = None) -> str:
    """Return the report as one HTML string (see :func:`write_report`)."""
    subs = submissions(rows)
    by_student = scores_by_student(rows)
    tests = scores_by_test(rows)
    missing = missing_submissions(rows)
    graded = subs[subs["status"] == "graded"]
    flags = _explode(subs, "flags")
    notices = _explode(subs, "notices")
    rejected = subs.loc[subs["status"] == "rejected", ["student", "assignment", "reason"]]
    causes = with_causes(tests) if len(tests) else tests.assign(cause=pd.Series(dtype=str))
    not_attempted = causes[causes["cause"] == "not attempted"]
    cards = (
        (by_student["student"].nunique() if len(by_student) else 0, "students"),
        (by_student["assignment"].nunique() if len(by_student) else 0, "assignments"),
        (len(graded), "notebooks graded"),
        (len(rejected), "rejected"),
        (len(missing), "missing"),
        (len(flags), "review flags"),
        (not_attempted[["student", "assignment", "question"]].drop_duplicates().shape[0],
         "questions not attempted"),
    )  # fmt: skip
    sections = (
        _summary(by_student, rows),
        _questions_section(tests),
        _misconceptions_section(tests),
        _grades_section(rows, policy),
        _similarity_section(rows),
        _tests_section(rows),
        Section(
            "scores",
            "Question scores",
            (
                frame_table(
                    question_summary(rows),
                    "scores-table",
                    numbers={"mean": "{:.2f}", "mean_all": "{:.2f}", "mean_percent": "{:.1f}"},
                ),
            ),
            hints=("Mean points per question over submitted work, and over everyone.",),
        ),
        Section(
            "timing",
            "Time to grade",
            (_timing_text(graded), Plot(plots.data_uri(plots.timing_plot(graded)), "Timing")),
        ),
        _list_section("flags", "Review flags", flags, "No review flags."),
        _list_section("notices", "Notices", notices, "No notices."),
        _list_section("rejected", "Rejected submissions", rejected, "None rejected."),
        _list_section(
            "missing",
            "Missing submissions",
            missing[["student", "assignment", "duedate", "recorded"]],
            "Nothing missing.",
        ),
    )
    page = Page(
        "GradeTape report",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the gradebook.",
        cards,
        sections,
    )
    return render_page(page)


def _summary(by_student: pd.DataFrame, rows: Rows) -> Section:
    return Section(
        "summary",
        "Score distribution per assignment",
        (
            Plot(
                plots.data_uri(plots.distribution_plot(by_student)),
                "Histogram of scores per assignment",
            ),
            frame_table(
                assignment_summary(rows),
                "assignments-table",
                numbers={"mean": "{:.2f}", "median": "{:.2f}"},
                empty="No assignments yet.",
            ),
        ),
        open=True,
    )


def _questions_section(tests: pd.DataFrame) -> Section:
    table = question_outcomes(tests)
    return Section(
        "pass-rates",
        "Pass rate per question",
        (
            frame_table(
                table.rename(columns={"pass_rate": "pass_rate_%"}),
                "questions-table",
                numbers={"pass_rate_%": "{:.1f}"},
                empty="Nothing graded yet.",
            ),
        ),
        hints=(
            "Graded submissions that passed every test of the question, lowest first; the "
            "others by cause: a known mistake (a wrong variant's values), unknown, or not "
            "attempted (the code still raised NotImplementedError: missing work, not a "
            "misconception).",
        ),
        count=f"{len(table)} questions",
        open=True,
    )


def _misconceptions_section(tests: pd.DataFrame) -> Section:
    table = misconception_table(tests)
    return Section(
        "misconceptions",
        "Misconceptions",
        (frame_table(table, "misconceptions-table", empty="No failed tests."),),
        hints=(
            "Failed tests whose values reproduce a known-wrong variant, most students first; "
            "unknown counts failures no variant explains (a prompt to write one). "
            "Not-attempted failures are not counted here.",
        ),
        count=f"{len(table)} rows",
        open=True,
    )


def _grades_section(rows: Rows, policy: GradingPolicy | None) -> Section:
    grades = course_grades(rows, policy)
    return Section(
        "grades",
        "Course grades",
        (
            frame_table(
                grades.drop(columns=["first_name", "last_name"]),
                "grades-table",
                numbers={"percent": "{:.1f}"},
                empty="No students yet.",
            ),
        ),
        hints=("Weighted percentage after late penalties and dropped assignments.",),
        count=f"{len(grades)} students",
    )


def _similarity_section(rows: Rows) -> Section:
    frame = similar_submissions(rows)
    pairs = tuple(
        Pair(
            str(p.assignment),
            str(p.student_a),
            str(p.student_b),
            f"{p.similarity:.0%}",
            f"{p.similarity_a:.0%}",
            f"{p.similarity_b:.0%}",
            mark_shared(str(p.code_a)),
            mark_shared(str(p.code_b)),
        )
        for p in frame.itertuples()
    )
    return Section(
        "similarity",
        "Similar submissions",
        (Pairs("pairs-list", pairs),),
        hints=(
            "Pairs whose solution code overlaps (copydetect winnowing, names normalised, the "
            "release's code and cells identical to it left out, code under the "
            "[similarity] min_tokens setting not compared), most similar first. For review "
            "only: no score changes. Click a pair for its code; shared code is highlighted.",
        ),
        count=f"{len(pairs)} pairs",
    )


def _tests_section(rows: Rows) -> Section:
    rates = pass_rates(rows)
    table = rates.assign(pass_rate=(100 * rates["pass_rate"].astype(float)).round(1))
    return Section(
        "tests",
        "Pass rate per test",
        (
            Plot(plots.data_uri(plots.pass_rate_plot(rates)), "Pass rate of the hardest tests"),
            frame_table(
                table.rename(columns={"pass_rate": "pass_rate_%"}),
                "tests-table",
                numbers={"pass_rate_%": "{:.1f}"},
            ),
        ),
        hints=(f"The {plots.HARDEST} hardest tests plotted; every test in the table.",),
        count=f"{len(rates)} tests",
    )


def _list_section(id: str, title: str, frame: pd.DataFrame, empty: str) -> Section:
    return Section(
        id, title, (frame_table(frame, f"{id}-table", empty=empty),), count=f"{len(frame)}"
    )


def _explode(subs: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per item of a list column: ``student, assignment, <column singular>``."""
    name = column.rstrip("s")
    rows = [
        (r.student, r.assignment, item)
        for r in subs.itertuples()
        for item in (getattr(r, column) if isinstance(getattr(r, column), list) else [])
    ]
    return pd.DataFrame(rows, columns=["student", "assignment", name])


def _timing_text(graded: pd.DataFrame) -> Text:
    if graded.empty:
        return Text("Nothing graded yet.", "none")
    seconds = graded["duration_s"].astype(float)
    slowest = graded.loc[seconds.idxmax()]
    return Text(
        f"{len(seconds)} notebooks, {seconds.sum():.0f} s in total; median "
        f"{seconds.median():.1f} s, slowest {seconds.max():.1f} s ({slowest['student']}, "
        f"{slowest['assignment']})."
    )
