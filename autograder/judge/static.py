"""Static checks: a test's points are lost when a function uses something it must not.

For example ``GradientTape`` inside a manual backward pass. The student's code model lives
in :mod:`autograder.judge.student_code`, the rules for what counts as a use in
:mod:`autograder.judge.forbidden_use`; review flags (which never change a score) in
:mod:`autograder.judge.review_flags`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

from autograder.judge.dynamic import Lookup, dynamic_lookups
from autograder.judge.forbidden_use import LOOPS, Use, find_uses
from autograder.judge.source_tree import Tree, parse_cells
from autograder.judge.student_code import reachable, read_student
from autograder.load.exercise import StaticCheck
from autograder.load.readers import DEFAULT_LIMITS, ReaderLimits

__all__ = ["LOOPS", "SHOWN_USES", "run_static_checks"]

#: How many uses a failure message lists.
SHOWN_USES = 3


def run_static_checks(
    checks: Iterable[StaticCheck],
    student_code: Mapping[str, str],
    limits: ReaderLimits = DEFAULT_LIMITS,
    parsed: Mapping[str, Tree] | None = None,
) -> dict[str, str]:
    """Return ``test id -> message`` for every check that fires on the student's code.

    A check also fires when the function (or a helper or global it reaches) uses a dynamic
    lookup (:mod:`autograder.judge.dynamic`): what it uses could not be read from the source.
    When a student cell cannot be analysed (too large or too deeply nested), every check
    fires: a forbidden call could hide in it. ``parsed`` is :func:`parse_cells` of
    ``student_code`` when the caller parsed the cells already (once per submission).
    """
    checks = list(checks)
    if not checks:
        return {}
    if parsed is None:
        parsed = parse_cells(student_code, limits)
    unchecked = {where: why for where, why in parsed.items() if isinstance(why, str)}
    if unchecked:
        where, why = next(iter(unchecked.items()))
        message = (
            f"the code in cell `{where}` {why}, so the required checks on your functions could "
            "not be made; split or simplify it"
        )
        return {check.test: message for check in checks}
    trees = {where: tree for where, tree in parsed.items() if isinstance(tree, ast.Module)}
    student = read_student(trees)
    failures: dict[str, str] = {}
    for check in checks:
        func = student.functions.get(check.function)
        if func is None:
            continue  # the dynamic test already fails when the function is missing
        reached, globals_read = reachable(func, student)
        found: set[Use] = set()
        lookups: list[tuple[str, Lookup]] = []
        ids = {id(body) for body in reached}
        for body in reached:
            if not student.nested_in(body, ids):  # read with its enclosing function's names
                found.update(find_uses(body, check.forbid, student))
        for value in globals_read:
            found.update(find_uses(value, check.forbid, student, loops=False))
        for node in [*reached, *globals_read]:
            cell = student.cells.get(id(node), "?")
            lookups += [(cell, lookup) for lookup in dynamic_lookups(node)]
        if lookups:
            cell, first = min(lookups, key=lambda item: (item[0], item[1].line))
            failures.setdefault(
                check.test,
                f"`{check.function}` uses a dynamic lookup ({first.what}, line {first.line} of "
                f"cell `{cell}`): getattr/setattr with computed names, __import__, importlib, "
                "exec, eval, compile and lookups in globals()/vars()/__dict__ are not allowed in "
                "a function this test checks by reading its source. Write the calls out directly."
                + (f" {check.message}" if check.message else ""),
            )
        elif found:
            failures.setdefault(check.test, _message(check, found))
    return failures


def _label(identifier: str) -> str:
    return identifier if identifier.startswith("a `") else f"`{identifier}`"


def _message(check: StaticCheck, found: set[Use]) -> str:
    """The failure message: the rule, then each forbidden identifier used and where."""
    uses = sorted(found, key=lambda u: (u.cell, u.line, u.identifier, u.how))
    identifiers = ", ".join(_label(name) for name in sorted({u.identifier for u in uses}))
    head = check.message or f"`{check.function}` must not use {identifiers}."
    shown = "; ".join(
        _label(u.identifier)
        + (f" ({u.how})" if u.how else "")
        + f" at line {u.line} of cell `{u.cell}`"
        for u in uses[:SHOWN_USES]
    )
    more = f" (and {len(uses) - SHOWN_USES} more)" if len(uses) > SHOWN_USES else ""
    return f"{head} Found {shown}{more}."
