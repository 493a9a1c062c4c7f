"""A self-contained HTML report of the gradebook, for instructors.

One file, no external resources: the plots are PNGs (matplotlib, Agg, no pyplot state)
embedded as base64. Sections: a summary, course grades, the score distribution per
assignment, the pass rate of every hidden test (lowest first: the mistakes the class makes
most), questions, the time grading took, review flags, notices and rejections, and missing
work. It shows only what the gradebook holds; messages there are already student-safe.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from gradebook.frames import scores_by_student, scores_by_test, submissions
from gradebook.policy import (
    GradingPolicy,
    course_grades,
    missing_submissions,
    pass_rates,
    question_summary,
)

_STYLE = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--bad:#b42318;--ok:#1a7f37}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);
  background:#fff;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px}
h1{margin:0 0 4px;font-size:28px}h2{margin:36px 0 8px;font-size:20px;
  border-bottom:1px solid var(--line);padding-bottom:4px}
p.meta,p.hint{color:var(--muted);margin:4px 0 12px;font-size:14px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0}
.card{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:10px 16px;
  min-width:120px}
.card b{display:block;font-size:24px}.card span{color:var(--muted);font-size:13px}
table{border-collapse:collapse;margin:8px 0 4px;font-size:14px;width:auto}
td,th{border:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fbfcfd}
img.plot{max-width:100%;height:auto;display:block;margin:8px 0;border:1px solid var(--line);
  border-radius:6px}
.bad{color:var(--bad)}.ok{color:var(--ok)}.none{color:var(--muted);font-style:italic}
"""

_BLUE = "#2f6db5"
_RED = "#c0392b"
_AMBER = "#d68910"
_GREEN = "#1e8449"


def write_report(db_url: str, path: Path, policy: GradingPolicy | None = None) -> Path:
    """Write the HTML report to ``path`` and return it.

    Args:
        db_url: SQLAlchemy URL of the gradebook database.
        path: The HTML file to write (parents are created).
        policy: Grading policy for the course grades (default: :class:`GradingPolicy`).

    Returns:
        ``path``.
    """
    path = Path(path)
    html_text = render_report(db_url, policy)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_text, encoding="utf-8")
    return path


def render_report(db_url: str, policy: GradingPolicy | None = None) -> str:
    """Return the report as one HTML string (see :func:`write_report`)."""
    subs = submissions(db_url)
    by_student = scores_by_student(db_url)
    grades = course_grades(db_url, policy)
    rates = pass_rates(db_url)
    missing = missing_submissions(db_url)
    graded = subs[subs["status"] == "graded"]
    flags = _explode(subs, "flags")
    notices = _explode(subs, "notices")
    rejected = subs.loc[subs["status"] == "rejected", ["student", "assignment", "reason"]]

    cards = [
        (by_student["student"].nunique() if len(by_student) else 0, "students"),
        (by_student["assignment"].nunique() if len(by_student) else 0, "assignments"),
        (len(graded), "notebooks graded"),
        (len(rejected), "rejected"),
        (len(missing), "missing"),
        (len(flags), "review flags"),
    ]
    grade_table = grades.copy()
    for column in ("dropped", "missing", "late"):
        grade_table[column] = grade_table[column].map(_join)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>GradeTape report</title><style>{_STYLE}</style></head><body><main>",
        "<h1>GradeTape report</h1>",
        f"<p class='meta'>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the gradebook.</p>",
        "<div class='cards'>",
        *(f"<div class='card'><b>{n}</b><span>{_e(label)}</span></div>" for n, label in cards),
        "</div>",
        "<h2>Course grades</h2>",
        "<p class='hint'>Weighted percentage after late penalties and dropped assignments.</p>",
        _table(
            grade_table.drop(columns=["first_name", "last_name"]),
            numbers={"percent": "{:.1f}"},
        ),
        "<h2>Score distribution per assignment</h2>",
        _img(_distribution_plot(by_student), "Histogram of scores per assignment"),
        "<h2>Pass rate per test</h2>",
        "<p class='hint'>Lowest first: the mistakes the class makes most.</p>",
        _img(_pass_rate_plot(rates), "Pass rate of each hidden test"),
        "<h2>Misconceptions</h2>",
        "<p class='hint'>Failed tests whose values reproduce a known-wrong variant, per test; "
        "<em>unknown</em> counts failures no variant explains (a prompt to write one).</p>",
        _table(misconception_table(db_url), empty="No failed tests."),
        "<h2>Similar submissions</h2>",
        "<p class='hint'>Pairs whose solution code overlaps (copydetect winnowing, names "
        "normalised, the release's code subtracted). For review only: no score changes. "
        "Shared code is marked [[like this]].</p>",
        _similarity_html(db_url),
        "<h2>Questions</h2>",
        _table(
            question_summary(db_url),
            numbers={"mean": "{:.2f}", "mean_all": "{:.2f}", "mean_percent": "{:.1f}"},
        ),
        "<h2>Time to grade</h2>",
        _timing_text(graded),
        _img(_timing_plot(graded), "Grading time per notebook"),
        "<h2>Review flags</h2>",
        _table(flags, empty="No review flags."),
        "<h2>Notices</h2>",
        _table(notices, empty="No notices."),
        "<h2>Rejected submissions</h2>",
        _table(rejected, empty="None rejected."),
        "<h2>Missing submissions</h2>",
        _table(missing[["student", "assignment", "duedate", "recorded"]], empty="Nothing missing."),
        "</main></body></html>",
    ]
    return "\n".join(parts)


def _similarity_html(db_url: str, limit: int = 20) -> str:
    from gradebook.similarity import similar_submissions

    pairs = similar_submissions(db_url)
    if pairs.empty:
        return "<p>No similar pairs.</p>"
    rows = []
    for _, p in pairs.head(limit).iterrows():
        rows.append(
            f"<h3>{_e(p['assignment'])}: {_e(p['student_a'])} and {_e(p['student_b'])} "
            f"({p['similarity']:.0%})</h3><div style='display:flex;gap:1em'>"
            f"<pre style='flex:1;overflow:auto;font-size:11px'>{_e(p['code_a'])}</pre>"
            f"<pre style='flex:1;overflow:auto;font-size:11px'>{_e(p['code_b'])}</pre></div>"
        )
    more = len(pairs) - limit
    if more > 0:
        rows.append(f"<p>... and {more} more pairs.</p>")
    return "\n".join(rows)


def misconception_table(db_url: str) -> pd.DataFrame:
    """Per test and known mistake: how many students' failures it explains."""
    tests = scores_by_test(db_url)
    failed = tests[~tests["passed"].astype(bool)].copy()
    if failed.empty:
        return pd.DataFrame(columns=["assignment", "test_id", "misconception", "students"])
    failed["misconception"] = failed["misconception"].fillna("").replace("", "unknown")
    table = failed.groupby(["assignment", "test_id", "misconception"], as_index=False).agg(
        students=("student", "nunique")
    )
    return table.sort_values(["assignment", "students"], ascending=[True, False])


def _e(text: object) -> str:
    return html.escape(str(text))


def _join(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else ""


def _explode(subs: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per item of a list column: ``student, assignment, <column singular>``."""
    name = column.rstrip("s")
    rows = [
        (r.student, r.assignment, item)
        for r in subs.itertuples()
        for item in (getattr(r, column) if isinstance(getattr(r, column), list) else [])
    ]
    return pd.DataFrame(rows, columns=["student", "assignment", name])


def _table(
    frame: pd.DataFrame, *, numbers: dict[str, str] | None = None, empty: str = "No rows."
) -> str:
    if frame.empty:
        return f"<p class='none'>{_e(empty)}</p>"
    numbers = numbers or {}
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            if isinstance(value, bool):
                cells.append(f"<td>{'yes' if value else ''}</td>")
            elif isinstance(value, int | float) and not isinstance(value, bool):
                text = "" if pd.isna(value) else numbers.get(column, "{:g}").format(value)
                cells.append(f"<td class='num'>{text}</td>")
            elif value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
                cells.append("<td></td>")
            else:
                cells.append(f"<td>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(fig: Figure | None, alt: str) -> str:
    if fig is None:
        return "<p class='none'>No data yet.</p>"
    return f"<img class='plot' alt='{_e(alt)}' src='data:image/png;base64,{_png(fig)}'>"


def _distribution_plot(by_student: pd.DataFrame) -> Figure | None:
    if by_student.empty:
        return None
    names = sorted(by_student["assignment"].unique())
    cols = min(3, len(names))
    nrows = -(-len(names) // cols)
    fig = Figure(figsize=(3.6 * cols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False, sharey=True)
    bins = [i * 10 for i in range(11)]
    for ax, name in zip(axes.flat, names, strict=False):
        mine = by_student[by_student["assignment"] == name]
        maximum = mine["max_score"].max()
        percent = (100 * mine["score"] / maximum) if maximum > 0 else mine["score"] * 0
        submitted = percent[~mine["missing"]].clip(0, 100)
        absent = percent[mine["missing"]]
        ax.hist(
            [submitted, absent],
            bins=bins,
            stacked=True,
            color=[_BLUE, "#bbbbbb"],
            label=["submitted", "missing"],
            edgecolor="white",
        )
        ax.axvline(percent.mean(), color=_RED, linestyle="--", lw=1, label="mean")
        ax.set_title(f"{name}  (mean {percent.mean():.0f}%, n={len(mine)})", fontsize=10)
        ax.set_xlim(0, 100)
        ax.set_xlabel("score (% of max)", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("students", fontsize=9)
    axes[0][0].legend(fontsize=8, loc="upper left", frameon=False)
    return fig


def _pass_rate_plot(rates: pd.DataFrame) -> Figure | None:
    if rates.empty:
        return None
    rates = rates.head(40)  # the 40 hardest tests; the rest pass more often
    labels = [
        f"{a} · {t.rsplit('::', 1)[-1]}"
        for a, t in zip(rates["assignment"], rates["test_id"], strict=True)
    ]
    values = (100 * rates["pass_rate"].astype(float)).tolist()
    colors = [_RED if v < 50 else _AMBER if v < 80 else _GREEN for v in values]
    fig = Figure(figsize=(10, 0.8 + 0.3 * len(rates)), layout="constrained")
    ax = fig.subplots()
    positions = list(range(len(rates)))
    ax.barh(positions, values, color=colors, height=0.7)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()  # lowest pass rate on top
    ax.set_xlim(0, 105)
    ax.set_xlabel("passed (% of graded submissions)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    for y, (value, passed, attempts) in enumerate(
        zip(values, rates["passed"], rates["attempts"], strict=True)
    ):
        ax.text(value + 1, y, f"{int(passed)}/{int(attempts)}", va="center", fontsize=7)
    return fig


def _timing_text(graded: pd.DataFrame) -> str:
    if graded.empty:
        return "<p class='none'>Nothing graded yet.</p>"
    seconds = graded["duration_s"].astype(float)
    return (
        f"<p class='hint'>{len(seconds)} notebooks, {seconds.sum():.0f} s in total; "
        f"median {seconds.median():.1f} s, slowest {seconds.max():.1f} s "
        f"({_e(graded.loc[seconds.idxmax(), 'student'])}, "
        f"{_e(graded.loc[seconds.idxmax(), 'assignment'])}).</p>"
    )


def _timing_plot(graded: pd.DataFrame) -> Figure | None:
    if graded.empty:
        return None
    names = sorted(graded["assignment"].unique())
    data = [graded.loc[graded["assignment"] == n, "duration_s"].astype(float) for n in names]
    fig = Figure(figsize=(10, 0.9 + 0.45 * len(names)), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(data, orientation="horizontal", widths=0.5, showfliers=False)
    for i, values in enumerate(data, start=1):
        jitter = [i + ((k % 5) - 2) * 0.05 for k in range(len(values))]
        ax.scatter(values, jitter, s=12, color=_BLUE, alpha=0.7, zorder=3)
    ax.set_yticks(range(1, len(names) + 1), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per notebook (sandbox start to stored verdict)", fontsize=9)
    ax.set_xlim(left=0)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#e5e5e5")
    return fig
