"""Per-student feedback pages, in nbgrader's feedback layout.

:func:`write_all_feedback` writes ``<course>/feedback/<student>/<assignment>/<notebook>.html``
for every submitted notebook, which is where ``nbgrader generate_feedback`` puts its pages:
``nbgrader release_feedback`` then publishes them to the exchange and students get them with
``nbgrader fetch_feedback`` (release_feedback matches each page to the submission by the
notebook's hash, so the submitted notebooks and ``timestamp.txt`` must be in
``submitted/<student>/<assignment>/`` as usual).

A page holds each question's points, each hidden test's readable message, the rejection
reason and the run's notices: exactly what the gradebook holds, which is already
student-safe. Nothing else is added: no expected values, no stack traces, no review flags
(those are for instructors), no other student's data.
"""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from gradebook.frames import scores_by_question, scores_by_test, submissions
from gradebook.policy import GradingPolicy, assignment_grades
from gradebook.rows import Rows, read_rows

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;
  line-height:1.45}
main{max-width:820px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:#656d76;font-size:14px;margin:0 0 16px}
.total{font-size:20px;background:#f6f8fa;border:1px solid #d0d7de;border-radius:8px;
  padding:10px 16px;display:inline-block}
table{border-collapse:collapse;font-size:14px;margin:6px 0}
td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600}.fail{color:#b42318;font-weight:600}
ul{padding-left:20px}.box{border-left:4px solid #d68910;background:#fff8e6;
  padding:8px 12px;margin:8px 0}
"""


def render_feedback(
    db_url: str,
    assignment: str,
    student: str,
    notebook: str | None = None,
    policy: GradingPolicy | None = None,
) -> str:
    """Return the feedback page of one student's assignment (or one notebook of it).

    Args:
        db_url: SQLAlchemy URL of the gradebook database.
        assignment: nbgrader assignment name.
        student: nbgrader student id.
        notebook: Only this notebook (nbgrader's layout has one page per notebook);
            default: every notebook of the assignment on one page.
        policy: The late policy whose penalty the page states (default: nbgrader's
            recorded ``late_submission_penalty``).

    Returns:
        A self-contained HTML page.

    Raises:
        KeyError: Unknown student, assignment or notebook.
    """
    return _render(_Snapshot.read(db_url, policy), assignment, student, notebook)


def write_feedback(
    db_url: str,
    assignment: str,
    student: str,
    path: str | os.PathLike[str],
    notebook: str | None = None,
) -> Path:
    """Write :func:`render_feedback` to ``path`` and return it.

    Args:
        db_url: SQLAlchemy URL of the gradebook database.
        assignment: nbgrader assignment name.
        student: nbgrader student id.
        path: The HTML file to write (parents are created).
        notebook: See :func:`render_feedback`.

    Returns:
        The path written.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_feedback(db_url, assignment, student, notebook), encoding="utf-8")
    return out


def write_all_feedback(
    db_url: str,
    course_root: str | os.PathLike[str],
    *,
    assignment: str | None = None,
    feedback_directory: str = "feedback",
    policy: GradingPolicy | None = None,
    submitted: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write a page per submitted notebook into nbgrader's feedback layout.

    Next to each page go the submission's ``timestamp.txt`` and ``submission_secret.txt``
    (copied from ``submitted/<student>/<assignment>/``, where ``nbgrader collect`` put
    them): ``nbgrader release_feedback`` reads both and publishes the page under the hash
    ``fetch_feedback`` looks for. ``nbgrader generate_feedback`` (the autograded notebook
    with GradeTape's verdicts) writes the same files to the same place; either page works.

    Args:
        db_url: SQLAlchemy URL of the gradebook database.
        course_root: nbgrader's ``CourseDirectory.root``.
        assignment: Only this assignment (default: all).
        feedback_directory: nbgrader's ``CourseDirectory.feedback_directory``.
        policy: See :func:`render_feedback`.
        submitted: The submissions folder (default: ``<root>/submitted``).

    Returns:
        The pages written, ``<root>/<feedback>/<student>/<assignment>/<notebook>.html``.
        Students with nothing submitted get no page (nbgrader could not release one).
    """
    snap = _Snapshot.read(db_url, policy)
    root = Path(course_root) / feedback_directory
    handed_in = Path(submitted) if submitted is not None else Path(course_root) / "submitted"
    written = []
    for student, name, notebook in snap.submitted_notebooks(assignment):
        path = root / student / name / f"{notebook}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(snap, name, student, notebook), encoding="utf-8")
        for extra in RELEASE_FILES:
            origin = handed_in / student / name / extra
            if origin.is_file() and not origin.is_symlink():
                shutil.copyfile(origin, path.parent / extra)
        written.append(path)
    return written


RELEASE_FILES = ("timestamp.txt", "submission_secret.txt")
"""What ``nbgrader release_feedback`` reads next to a page (written by ``nbgrader submit``)."""


class _Snapshot:
    """The frames one rendering needs, read once."""

    def __init__(self, rows: Rows, questions: pd.DataFrame, tests: pd.DataFrame,
                 subs: pd.DataFrame, grades: pd.DataFrame) -> None:  # fmt: skip
        self.rows = rows
        self.questions = questions
        self.tests = tests
        self.subs = subs
        self.grades = grades

    @classmethod
    def read(cls, db_url: str, policy: GradingPolicy | None = None) -> _Snapshot:
        return cls(
            read_rows(db_url),
            scores_by_question(db_url),
            scores_by_test(db_url),
            submissions(db_url),
            assignment_grades(db_url, policy),
        )

    def submitted_notebooks(self, assignment: str | None) -> Iterator[tuple[str, str, str]]:
        present = self.questions[~self.questions["missing"]]
        if assignment is not None:
            present = present[present["assignment"] == assignment]
        keys = present[["student", "assignment", "notebook"]].drop_duplicates()
        yield from keys.itertuples(index=False, name=None)


def _e(text: object) -> str:
    return html.escape(str(text))


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _late(grades: pd.DataFrame) -> list[str]:
    """How late the assignment was and what it cost (the policy's number)."""
    if not len(grades):
        return []
    row = grades.iloc[0]
    days = int(row["days_late"])
    penalty = float(row["late_penalty"])
    if days <= 0 and penalty <= 0:
        return []
    when = f"{days} started day{'s' if days != 1 else ''} late" if days > 0 else "late"
    if pd.notna(row["timestamp"]) and pd.notna(row["duedate"]):
        hours = (row["timestamp"] - row["duedate"]) / pd.Timedelta(hours=1)
        when = f"submitted {hours:.1f} hours after the due date ({when})"
    cost = f"late penalty: {_points(penalty)} points" if penalty > 0 else "no late penalty"
    return [
        f"<div class='box'>Late: {_e(when)}; {_e(cost)}. Score after the penalty: "
        f"<b>{_points(float(row['score']))}</b> / {_points(float(row['max_score']))}.</div>"
    ]


def _render(snap: _Snapshot, assignment: str, student: str, notebook: str | None) -> str:
    rows = snap.rows
    if student not in set(rows.students["student"]):
        raise KeyError(f"no student {student!r} in the gradebook")
    if assignment not in set(rows.assignments["assignment"]):
        raise KeyError(f"no assignment {assignment!r} in the gradebook")
    q = snap.questions
    q = q[(q["student"] == student) & (q["assignment"] == assignment)]
    if notebook is not None:
        if notebook not in set(q["notebook"]):
            raise KeyError(f"no notebook {notebook!r} in {assignment}")
        q = q[q["notebook"] == notebook]
    notebooks = sorted(set(q["notebook"]))
    t = snap.tests
    t = t[(t["student"] == student) & (t["assignment"] == assignment)]
    t = t[t["notebook"].isin(notebooks)]
    s = snap.subs
    s = s[(s["student"] == student) & (s["assignment"] == assignment)]
    s = s[s["notebook"].isin(notebooks)]

    title = f"{assignment}" + (f" / {notebook}" if notebook else "")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Feedback: {_e(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>Feedback: {_e(title)}</h1>",
        f"<p class='meta'>Student: {_e(student)}</p>",
        f"<p class='total'>Score: <b>{_points(q['score'].sum())}</b> / "
        f"{_points(q['max_score'].sum())}</p>",
    ]
    if len(q) and bool(q["missing"].all()):
        parts.append("<div class='box'>No submission was received: every question scores 0.</div>")
    g = snap.grades
    g = g[(g["student"] == student) & (g["assignment"] == assignment)]
    parts += _late(g)
    messages = [r for r in s["reason"].tolist() if isinstance(r, str) and r]
    notices = [n for ns in s["notices"].tolist() if isinstance(ns, list) for n in ns]
    for reason in messages:
        parts.append(f"<div class='box'>{_e(reason)}</div>")
    parts += ["<h2>Questions</h2>", "<table><thead><tr><th>Question</th>"]
    parts.append("<th>Points</th><th>Out of</th></tr></thead><tbody>")
    for r in q.itertuples():
        label = r.question if len(notebooks) == 1 else f"{r.notebook}: {r.question}"
        parts.append(
            f"<tr><td>{_e(label)}</td><td class='num'>{_points(r.score)}</td>"
            f"<td class='num'>{_points(r.max_score)}</td></tr>"
        )
    parts.append("</tbody></table>")
    if len(t):
        parts += ["<h2>Checks</h2>", "<table><thead><tr><th>Question</th><th>Result</th>"]
        parts.append("<th>Points</th><th>Message</th></tr></thead><tbody>")
        for r in t.itertuples():
            verdict = (
                "<span class='pass'>passed</span>"
                if r.passed
                else ("<span class='fail'>failed</span>")
            )
            parts.append(
                f"<tr><td>{_e(r.question)}</td><td>{verdict}</td>"
                f"<td class='num'>{_points(r.points)} / {_points(r.max_points)}</td>"
                f"<td>{_e(r.message or '')}</td></tr>"
            )
        parts.append("</tbody></table>")
    if notices:
        parts.append("<h2>Notes about the run</h2><ul>")
        parts += [f"<li>{_e(n)}</li>" for n in notices]
        parts.append("</ul>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
