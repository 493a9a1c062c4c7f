"""Summarise an audit per question: a terminal table and an HTML page (pure but the write)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder.review.audit.judge import Fate, Outcome
from autograder.review.audit.run import AuditResult


@dataclass(frozen=True)
class Row:
    """Counts for one question (or the whole exercise).

    ``kill_rate`` is killed / (mutants - reviewed equivalents): an equivalent *candidate* (full
    marks, no recorded value differs) counts as not killed until someone reviews it and lists
    it in ``equivalent_mutants.toml`` with a reason, because "the grader records too little"
    looks exactly like "the mutant is equivalent". ``lenient_rate`` also leaves candidates out.
    Mutants the audit could not run are left out altogether. ``None`` when nothing is left.
    """

    name: str
    mutants: int
    killed: int
    trivial: int
    survived: int
    candidates: int
    reviewed: int
    errors: int

    @property
    def kill_rate(self) -> float | None:
        """Killed over mutants not reviewed as equivalent (candidates count as not killed)."""
        base = self.mutants - self.reviewed - self.errors
        return self.killed / base if base > 0 else None

    @property
    def lenient_rate(self) -> float | None:
        """Killed over mutants that are neither reviewed equivalents nor candidates."""
        base = self.mutants - self.candidates - self.reviewed - self.errors
        return self.killed / base if base > 0 else None

    @property
    def rate_text(self) -> str:
        """The kill rate as a percentage, or ``-``."""
        rate = self.kill_rate
        return "-" if rate is None else f"{100 * rate:.0f}%"


def summarise(name: str, outcomes: list[Outcome]) -> Row:
    """Count outcomes; ``killed`` includes the trivially killed."""
    count = lambda fate: sum(o.fate is fate for o in outcomes)  # noqa: E731
    return Row(
        name,
        len(outcomes),
        count(Fate.KILLED) + count(Fate.TRIVIAL),
        count(Fate.TRIVIAL),
        count(Fate.SURVIVED),
        count(Fate.CANDIDATE),
        count(Fate.REVIEWED),
        count(Fate.ERROR),
    )


def question_rows(result: AuditResult) -> list[Row]:
    """One row per question (in notebook order), then the exercise total."""
    groups: dict[str, list[Outcome]] = {}
    for question in dict.fromkeys(result.questions.values()):
        groups[question] = []
    for outcome in result.outcomes:
        groups.setdefault(result.questions.get(outcome.mutant.cell, "(no question)"), []).append(
            outcome
        )
    rows = [summarise(q, found) for q, found in groups.items() if found]
    return [*rows, summarise("total", result.outcomes)]


HEADER = ("question", "mutants", "killed", "trivial", "survived", "equiv?", "reviewed", "kill rate")


def format_rows(rows: list[Row], first: str = "question") -> str:
    """A fixed-width text table of rows."""
    lines = [(first, *HEADER[1:])]
    for r in rows:
        lines.append(
            (
                r.name,
                str(r.mutants),
                str(r.killed),
                str(r.trivial),
                str(r.survived),
                str(r.candidates),
                str(r.reviewed),
                r.rate_text + (f" ({r.errors} errors)" if r.errors else ""),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def format_result(result: AuditResult, diffs: bool = True) -> str:
    """The terminal report: the table, every survivor's diff, the trivially killed ids."""
    shown = len(result.outcomes)
    parts = [
        f"{result.exercise}: {shown} of {result.generated} mutants graded "
        f"in {result.seconds:.0f} s",
        format_rows(question_rows(result)),
    ]
    for fate in (Fate.SURVIVED, Fate.CANDIDATE, Fate.ERROR, Fate.TRIVIAL):
        found = [o for o in result.outcomes if o.fate is fate]
        if not found:
            continue
        parts.append(f"\n{fate.value} ({len(found)}):")
        for o in found:
            parts.append(
                f"  {o.mutant.id}  [{o.mutant.description}]" + (f" {o.note}" if o.note else "")
            )
            if diffs and fate in (Fate.SURVIVED, Fate.CANDIDATE):
                parts.append("    " + o.mutant.diff().replace("\n", "\n    "))
    return "\n".join(parts)


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Grader audit: {{ r.exercise }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; } td, th { padding: .25em .7em; border-bottom: 1px solid #ddd; }
td.n { text-align: right; } tr.total td { font-weight: bold; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
.survived { color: #a40000; } .candidate { color: #8a6d00; }
details { margin: .4em 0; }
</style></head><body>
<h1>Grader audit: {{ r.exercise }}</h1>
<p>{{ r.outcomes|length }} of {{ r.generated }} mutants of the reference solution graded in
{{ '%.0f'|format(r.seconds) }} s. A mutant is <b>killed</b> when it loses at least one point;
<b>survivors</b> get full marks although some recorded value differs from the key's;
<b>equivalent candidates</b> get full marks with every recorded value identical to the key's
(either equivalent, or the grader records too little). Kill rate = killed / (mutants &minus;
reviewed equivalents): a candidate counts as not killed until it is reviewed. Review every
survivor and candidate before release:
add a test that kills it, or list it in <code>equivalent_mutants.toml</code> with a reason.</p>
<table><tr>{% for h in header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr{% if loop.last %} class="total"{% endif %}><td>{{ row.name }}</td>
{% for n in (row.mutants, row.killed, row.trivial, row.survived, row.candidates, row.reviewed) %}
<td class="n">{{ n }}</td>{% endfor %}
<td class="n">{{ row.rate_text }}{% if row.errors %} ({{ row.errors }} errors){% endif %}</td></tr>
{% endfor %}</table>
{% for title, css, items in sections %}{% if items %}
<h2 class="{{ css }}">{{ title }} ({{ items|length }})</h2>
{% for o in items %}<details{% if css != "killed" %} open{% endif %}>
<summary><code>{{ o.mutant.id }}</code> &mdash; {{ questions.get(o.mutant.cell, "") }}
&mdash; {{ o.mutant.description }}{% if o.note %}: {{ o.note }}{% endif %}
{% if o.lost %} &mdash; lost {{ o.lost|length }} test(s), {{ o.points }} point(s){% endif %}
</summary><pre>{{ o.mutant.diff() }}</pre>
{% if o.lost %}<p>Tests lost: {{ o.lost|join(", ") }}</p>{% endif %}</details>
{% endfor %}{% endif %}{% endfor %}
</body></html>
"""


def render_html(result: AuditResult) -> str:
    """The HTML page an instructor reads before releasing the assignment (autoescaped)."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    by = lambda *fates: [o for o in result.outcomes if o.fate in fates]  # noqa: E731
    sections = [
        ("Survived", "survived", by(Fate.SURVIVED)),
        ("Equivalent candidates", "candidate", by(Fate.CANDIDATE)),
        ("Could not run", "survived", by(Fate.ERROR)),
        ("Reviewed equivalents", "reviewed", by(Fate.REVIEWED)),
        ("Killed", "killed", by(Fate.KILLED)),
        ("Trivially killed", "killed", by(Fate.TRIVIAL)),
    ]
    return env.from_string(_TEMPLATE).render(
        r=result,
        header=HEADER,
        rows=question_rows(result),
        sections=sections,
        questions=result.questions,
    )


def write_html(result: AuditResult, path: Path) -> Path:
    """Write :func:`render_html` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result), encoding="utf-8")
    return path
