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


def render_html(result: AuditResult) -> str:
    """The HTML page an instructor reads before releasing the assignment.

    Rendered from ``gradebook/templates/audit.html.j2`` with GradeTape's one stylesheet,
    autoescaped (mutant code and notes are printed as text).
    """
    from gradebook.pages import render

    by = lambda *fates: [o for o in result.outcomes if o.fate in fates]  # noqa: E731
    sections = [
        ("Survived", "bad", by(Fate.SURVIVED)),
        ("Equivalent candidates", "warn", by(Fate.CANDIDATE)),
        ("Could not run", "bad", by(Fate.ERROR)),
        ("Reviewed equivalents", "none", by(Fate.REVIEWED)),
        ("Killed", "ok", by(Fate.KILLED)),
        ("Trivially killed", "ok", by(Fate.TRIVIAL)),
    ]
    return render(
        "audit.html.j2",
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
