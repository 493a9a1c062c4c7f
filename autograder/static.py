"""Checks on the student's source, run on the trusted side: static checks and review flags.

Static checks take a test's points when a function uses something it must not (for
example ``GradientTape`` inside a manual backward pass). Review flags mark sources that
reach into the grading machinery for an instructor to look at; they never change a score.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping

from .exercise import StaticCheck
from .public_data import public_data_flags

#: Patterns that suggest a notebook inspects or patches the grader, with a readable label.
REVIEW_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"sys\s*\.\s*_getframe|inspect\s*\.\s*(currentframe|stack|getouterframes)|\.f_back\b",
        "inspects call frames",
    ),
    (r"gc\s*\.\s*(get_objects|get_referrers|get_referents)", "searches the garbage collector"),
    (
        r"sys\s*\.\s*modules\s*\[[^\]]*\]\s*=|sys\s*\.\s*modules\s*\.\s*(pop|update|setdefault)|"
        r"del\s+sys\s*\.\s*modules",
        "modifies sys.modules",
    ),
    (r"(sys|threading)\s*\.\s*(settrace|setprofile)", "installs a trace function"),
    (
        r"^\s*(import|from)\s+(pytest|_pytest|pluggy|autograder|gradetape_runtime|nbgrader)\b",
        "imports the grading machinery",
    ),
    (r"gradetape_runtime|_pytest|\bpluggy\b|GraderPlugin", "mentions the grading machinery"),
    (r"\bctypes\b", "uses ctypes"),
    (r"/proc/|/job/", "reads process or job files"),
    (r"builtins\s*\.\s*\w+\s*=|__builtins__\s*\[", "replaces builtins"),
)


def transform(source: str) -> str:
    """IPython syntax (``%magic``, ``!cmd``) to plain Python, so ``ast`` can parse it."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return str(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001 - fall back to the raw text
        return source


#: ``forbid`` entries that name loop statements rather than identifiers.
LOOPS: dict[str, tuple[type[ast.AST], ...]] = {
    "for": (ast.For, ast.AsyncFor, ast.comprehension),
    "while": (ast.While,),
}


def _functions(sources: Iterable[str]) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """The last definition of each function in the sources, by name and ``Class.name``."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for source in sources:
        try:
            tree = ast.parse(transform(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found[node.name] = node
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        found[f"{node.name}.{item.name}"] = item
    return found


def _reachable(
    start: ast.FunctionDef | ast.AsyncFunctionDef,
    functions: Mapping[str, ast.FunctionDef | ast.AsyncFunctionDef],
) -> list[ast.AST]:
    """``start`` and every student-defined function it calls by name, transitively.

    So a forbidden call cannot be hidden in a helper function.
    """
    seen: dict[int, ast.AST] = {id(start): start}
    todo: list[ast.AST] = [start]
    while todo:
        for sub in ast.walk(todo.pop()):
            if not isinstance(sub, ast.Call):
                continue
            callee = sub.func
            name = callee.id if isinstance(callee, ast.Name) else None
            if isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name):
                name = callee.attr if callee.value.id in {"self", "cls"} else None
            target = functions.get(name) if name else None
            if target is not None and id(target) not in seen:
                seen[id(target)] = target
                todo.append(target)
    return list(seen.values())


def _uses(node: ast.AST, names: Iterable[str]) -> set[str]:
    """The forbidden identifiers (and ``for``/``while`` loops) used inside ``node``.

    An entry written ``.name`` matches attribute uses only (``tf.nn.pool``, not a local
    variable called ``pool``).
    """
    wanted = {n for n in names if not n.startswith(".")}
    attributes = wanted | {n[1:] for n in names if n.startswith(".")}
    used: set[str] = set()
    loops = {word: kinds for word, kinds in LOOPS.items() if word in wanted}
    for sub in ast.walk(node):
        for word, kinds in loops.items():
            if isinstance(sub, kinds):
                used.add(f"a `{word}` loop")
        if isinstance(sub, ast.Attribute) and sub.attr in attributes:
            used.add(sub.attr)
        elif isinstance(sub, ast.Name) and sub.id in wanted:
            used.add(sub.id)
        elif isinstance(sub, ast.alias) and sub.name.rsplit(".", 1)[-1] in wanted:
            used.add(sub.name)
    return used


def run_static_checks(
    checks: Iterable[StaticCheck], student_code: Mapping[str, str]
) -> dict[str, str]:
    """Return ``test id -> message`` for every check that fires on the student's code."""
    functions = _functions(student_code.values())
    failures: dict[str, str] = {}
    for check in checks:
        func = functions.get(check.function)
        if func is None:
            continue  # the dynamic test already fails when the function is missing
        used: set[str] = set()
        for body in _reachable(func, functions):
            used |= _uses(body, check.forbid)
        if used:
            message = check.message or f"`{check.function}` must not use {', '.join(sorted(used))}"
            failures.setdefault(check.test, message)
    return failures


def review_flags(student_code: Mapping[str, str]) -> list[str]:
    """Readable review flags for code that reaches into the grader or into public labels."""
    flags: list[str] = []
    for where, source in student_code.items():
        for pattern, label in REVIEW_PATTERNS:
            if re.search(pattern, source, flags=re.MULTILINE):
                flags.append(f"cell `{where}` {label}")
        flags.extend(f"cell `{where}` {label}" for label in public_data_flags(source))
    return sorted(set(flags))
