"""Run mutants through the real grading pipeline: sandboxed, in parallel, cached.

A mutant is a submission: the reference submission (the release with every solution cell
completed) with one solution cell replaced, rebuilt on the release skeleton by
:func:`autograder.load.notebook.prepare` like a student's notebook. Its job runs through
:func:`autograder.judge.answer_key.cached_run` (the key's own cache: a mutant already run
with the same grader, runtime, seed and limits is read back, not rerun) and is scored by
:func:`autograder.review.audit.judge.judge` with the same comparison and static checks as a
submission.
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from autograder.judge.answer_key import AnswerKey, build_key, cached_run
from autograder.judge.static import run_static_checks
from autograder.load.exercise import Exercise, load_exercise
from autograder.load.heldout import labels_for
from autograder.load.notebook import grade_id, prepare, read_notebook
from autograder.load.readers import short_error
from autograder.load.release import reference_submission, solution_sources, with_cells
from autograder.review.audit.generate import Mutant, all_mutants, sample
from autograder.review.audit.judge import Fate, Outcome, compiles, judge
from autograder.run.sandbox import Sandbox, SandboxSpec, make_sandbox
from autograder.settings import CourseSettings

log = logging.getLogger(__name__)

EQUIVALENT_FILE = "equivalent_mutants.toml"
SAMPLE_FILE = "audit_sample.toml"
#: Default ``--max``: about 40 jobs keep a training exercise near 3 minutes on 2 cores.
DEFAULT_MAX = 40


@dataclass(frozen=True)
class AuditResult:
    """Everything an audit found for one exercise.

    Attributes:
        exercise: The exercise's name.
        generated: How many distinct mutants the operators produced.
        outcomes: One per mutant run (the sample), in generation order.
        questions: Solution cell ``grade_id`` -> the question it belongs to.
        seconds: Wall time of the audit (key and sandbox start included).
        key: The answer key the mutants were judged with.
    """

    exercise: str
    generated: int
    outcomes: list[Outcome]
    questions: dict[str, str]
    seconds: float
    key: AnswerKey | None = None


def cell_questions(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Solution cell ``grade_id`` -> the grade cell (question) that follows it."""
    pending: list[str] = []
    found: dict[str, str] = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            pending.append(grade_id(cell))
        elif meta.get("grade"):
            found.update({p: grade_id(cell) for p in pending})
            pending = []
    found.update({p: "(no question)" for p in pending})
    return found


def read_equivalents(exercise: Exercise) -> dict[str, str]:
    """The reviewed equivalent mutants of an exercise: id -> reason (empty if none).

    Raises:
        ValueError: If the file is not a ``[mutants]`` table of id = "reason" strings.
    """
    path = exercise.grader_dir / EQUIVALENT_FILE
    if not path.is_file():
        return {}
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("mutants", {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ValueError(f'{path}: expected a [mutants] table of "<mutant id>" = "<reason>"')
    return dict(table)


def read_sample(exercise: Exercise) -> dict[str, tuple[str, ...]]:
    """The CI battery's known-killed mutants: id -> the tests each must lose (may be empty).

    The file holds ``[[killed]]`` entries with ``id`` and ``loses`` (test ids).

    Raises:
        ValueError: If an entry has no ``id`` or names no test to lose.
    """
    path = exercise.grader_dir / SAMPLE_FILE
    if not path.is_file():
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("killed", []):
        loses = entry.get("loses") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not loses:
            raise ValueError(f"{path}: each [[killed]] needs an id and the tests it loses")
        found[entry["id"]] = tuple(str(t) for t in loses)
    return found


def exercise_mutants(exercise: Exercise) -> list[Mutant]:
    """Every mutant of the exercise's reference solution cells."""
    return all_mutants(solution_sources(exercise))


class MutantRunner:
    """Runs mutants of one exercise against its answer key in a given sandbox."""

    def __init__(
        self, exercise: Exercise, key: AnswerKey, sandbox: Sandbox, seed: int, cache: Path
    ):
        self.exercise = exercise
        self.key = key
        self.sandbox = sandbox
        self.seed = seed
        self.folder = cache / "audit" / exercise.name
        self.release = read_notebook(exercise.release_path)
        self.reference = reference_submission(exercise)
        self.labels = labels_for(exercise.datasets, seed, exercise.private_data)

    def run(self, mutant: Mutant, select: Sequence[str] | None = None) -> Outcome:
        """Grade one mutant; a platform failure is an ``ERROR`` outcome, never raised.

        ``select`` runs and judges only those tests (the CI sample: the tests a known-killed
        mutant must lose), skipping the rest of the grader.
        """
        broken = compiles(mutant)
        if broken:
            lost = tuple(self.key.tests)
            points = sum(t.points for t in self.key.tests.values())
            return Outcome(mutant, Fate.TRIVIAL, lost, points, broken)
        start = time.monotonic()
        try:
            prepared = prepare(
                with_cells(self.reference, {mutant.cell: mutant.source}), self.release
            )
            cells = list(prepared.cells)
            _, output = cached_run(
                self.exercise,
                cells,
                self.seed,
                self.sandbox,
                self.folder / mutant.cell,
                None,
                select,
            )
            static = run_static_checks(self.exercise.static_checks, prepared.student_code)
        except Exception as exc:  # noqa: BLE001 - one mutant never stops the audit
            log.warning("audit: %s could not be graded", mutant.id, exc_info=exc)
            return Outcome(
                mutant, Fate.ERROR, note=short_error(f"{type(exc).__name__}: {exc}", 300)
            )
        seconds = time.monotonic() - start
        return judge(mutant, self.key, output, static, self.labels, seconds, select)

    def run_all(
        self,
        mutants: Sequence[Mutant],
        workers: int,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Grade mutants ``workers`` at a time; outcomes in the order given."""

        def one(mutant: Mutant) -> Outcome:
            outcome = self.run(mutant)
            if on_outcome is not None:
                on_outcome(outcome)
            return outcome

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(one, mutants))


def reviewed(outcomes: list[Outcome], equivalents: dict[str, str]) -> list[Outcome]:
    """Mark the survivors the exercise's reviewed list calls equivalent."""
    return [
        replace(o, fate=Fate.REVIEWED, note=equivalents[o.mutant.id])
        if o.mutant.id in equivalents and not o.killed and o.fate is not Fate.ERROR
        else o
        for o in outcomes
    ]


def audit_exercise(
    settings: CourseSettings,
    name: str,
    limit: int | None = DEFAULT_MAX,
    workers: int | None = None,
    only: Sequence[str] = (),
    on_outcome: Callable[[Outcome], None] | None = None,
    sandbox: Sandbox | None = None,
) -> AuditResult:
    """Audit one exercise's grader with mutants of its reference solution.

    Args:
        settings: Course settings (seed, cache, isolation, warm workers).
        name: The exercise.
        limit: At most this many mutants (a deterministic stratified sample); ``None``: all.
        workers: Sandboxes at once (default: the course's worker count).
        only: Run just these mutant ids (the CI sample), ignoring ``limit``.
        on_outcome: Called with each outcome as it is decided (progress).
        sandbox: A sandbox to use (default: one started and stopped here).

    Raises:
        FileNotFoundError: If the exercise does not exist.
        KeyError: If ``only`` names a mutant the operators no longer produce.
        autograder.judge.answer_key.GraderError: If the reference solution fails its own grader.
    """
    start = time.monotonic()
    exercise = load_exercise(settings, name)
    mutants = exercise_mutants(exercise)
    if only:
        by_id = {m.id: m for m in mutants}
        missing = [i for i in only if i not in by_id]
        if missing:
            raise KeyError(f"{name}: no mutants {missing} (the reference or an operator changed)")
        chosen = [by_id[i] for i in only]
    else:
        chosen = sample(mutants, limit)
    count = workers or settings.worker_count
    box = sandbox or make_sandbox(SandboxSpec.from_settings(settings, exercise.limits, count))
    try:
        key = build_key(exercise, settings.seed, box, settings.cache)
        runner = MutantRunner(exercise, key, box, settings.seed, settings.cache)
        outcomes = runner.run_all(chosen, count, on_outcome)
    finally:
        if sandbox is None:
            box.close()
    outcomes = reviewed(outcomes, read_equivalents(exercise))
    questions = cell_questions(read_notebook(exercise.source_path))
    seconds = time.monotonic() - start
    return AuditResult(name, len(mutants), outcomes, questions, seconds, key)


#: Operators the CI sample prefers (the course's own mistakes before the classic ones).
_ML_FIRST = ("axis", "reduction", "transpose", "activation", "training", "dtype", "drop_term")


def pick_sample(outcomes: Sequence[Outcome], key: AnswerKey, count: int = 2) -> list[Outcome]:
    """Known-killed mutants for the CI sample: cheap to rerun, each from its own cell and test.

    Each candidate is killed (not trivially) and keeps only the lost test with the smallest
    timeout (no ``gpu`` test), which the sample's job then runs alone. Candidates rank by
    that timeout, then ML operators before classic ones, then id.
    """
    rank = {name: i for i, name in enumerate(_ML_FIRST)}
    light: list[tuple[tuple[float, int, str], Outcome]] = []
    for o in outcomes:
        tests = [t for t in o.lost if t in key.tests and not key.tests[t].gpu]
        if o.fate is not Fate.KILLED or not tests:
            continue
        cheapest = min(tests, key=lambda t: key.tests[t].timeout)
        order = (key.tests[cheapest].timeout, rank.get(o.mutant.operator, len(rank)), o.mutant.id)
        light.append((order, replace(o, lost=(cheapest,))))
    chosen: list[Outcome] = []
    for _, o in sorted(light, key=lambda item: item[0]):
        fresh = all(c.mutant.cell != o.mutant.cell and c.lost != o.lost for c in chosen)
        if len(chosen) < count and fresh:
            chosen.append(o)
    return chosen


def sample_toml(chosen: Sequence[Outcome]) -> str:
    """The ``audit_sample.toml`` text listing ``chosen`` with the tests each loses."""
    import json

    parts = [
        "# Known-killed mutants the CI battery reruns (tests/test_audit.py): each must still",
        "# lose these tests. Ids come from `gradetape audit`; pick new ones if the reference",
        "# solution changes.",
    ]
    for o in chosen:
        loses = ", ".join(json.dumps(t) for t in o.lost)
        parts += ["", "[[killed]]", f"id = {json.dumps(o.mutant.id)}"]
        parts += [f"# {o.mutant.description}", f"loses = [{loses}]"]
    return "\n".join(parts) + "\n"
