"""Checks on the student's source, run on the trusted side: static checks and review flags.

Static checks take a test's points when a function uses something it must not (for
example ``GradientTape`` inside a manual backward pass). Review flags mark sources that
reach into the grading machinery for an instructor to look at; they never change a score.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Mapping

from .dynamic import Lookup, dynamic_lookups, literal_lookups
from .exercise import StaticCheck
from .public_data import public_data_flags
from .readers import DEFAULT_LIMITS, ReaderLimits

#: Patterns that suggest a notebook inspects or patches the grader, with a readable label.
REVIEW_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"sys\s*\.\s*_getframe|inspect\s*\.\s*(currentframe|stack|getouterframes)|\.f_back\b",
        "inspects call frames",
    ),
    (r"gc\s*\.\s*(get_objects|get_referrers|get_referents)", "searches the garbage collector"),
    (
        r"sys\s*\.\s*modules\s*\[[^\]\n]{0,200}\]\s*=|sys\s*\.\s*modules\s*\.\s*(pop|update|setdefault)|"
        r"del\s+sys\s*\.\s*modules",
        "modifies sys.modules",
    ),
    (r"(sys|threading)\s*\.\s*(settrace|setprofile)", "installs a trace function"),
    (
        r"^[ \t]*(import|from)\s+(pytest|_pytest|pluggy|autograder|gradetape_runtime|nbgrader)\b",
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


@functools.lru_cache(maxsize=256)
def parse_source(source: str, limits: ReaderLimits = DEFAULT_LIMITS) -> ast.Module | str | None:
    """The source's syntax tree; ``None`` for a syntax error; a reason when it cannot be checked.

    ``ast.parse`` raises ``RecursionError`` or ``MemoryError`` on very deep expressions
    (``"-" * 100000 + "1"``) that the sandbox's compiler may still run, so such code, and
    code over the size limit, is reported instead of being skipped. Results are cached
    (static checks and review flags parse the same cells); treat the tree as read-only.
    """
    if len(source) > limits.static_source_chars:
        return f"is over {limits.static_source_chars} characters"
    try:
        return ast.parse(transform(source))
    except SyntaxError:
        return None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        return "is too deeply nested"


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(trees: Iterable[ast.Module]) -> dict[str, Function]:
    """The last definition of each function in the sources, by name and ``Class.name``."""
    found: dict[str, Function] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found[node.name] = node
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        found[f"{node.name}.{item.name}"] = item
    return found


def _module_bindings(trees: Iterable[ast.Module]) -> dict[str, list[ast.AST]]:
    """Global name -> what the module level binds it to (assigned values, ``from`` imports).

    A function that reads a global reads what it was bound to: ``GT = tf.GradientTape`` (or
    ``from tensorflow import GradientTape as GT``) at the top of a cell, then ``GT()`` in
    the function, uses ``GradientTape``. Plain ``import x`` binds a module and is left out.
    """
    bindings: dict[str, list[ast.AST]] = {}

    def bind(target: ast.AST, value: ast.AST) -> None:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                bindings.setdefault(sub.id, []).append(value)

    todo: list[ast.AST] = list(trees)
    while todo:
        node = todo.pop()
        for stmt in ast.iter_child_nodes(node):
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
                continue
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    bind(target, stmt.value)
            elif isinstance(stmt, ast.AnnAssign | ast.AugAssign) and stmt.value is not None:
                bind(stmt.target, stmt.value)
            elif isinstance(stmt, ast.NamedExpr):
                bind(stmt.target, stmt.value)
            elif isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    bindings.setdefault(alias.asname or alias.name, []).append(alias)
            elif isinstance(stmt, ast.For | ast.AsyncFor | ast.With | ast.AsyncWith):
                for target in (
                    [stmt.target]
                    if isinstance(stmt, ast.For | ast.AsyncFor)
                    else [i.optional_vars for i in stmt.items if i.optional_vars is not None]
                ):
                    bind(target, stmt)
            if not isinstance(stmt, ast.Import | ast.ImportFrom):
                todo.append(stmt)
    return bindings


def _reachable(
    start: Function,
    functions: Mapping[str, Function],
    bindings: Mapping[str, list[ast.AST]],
) -> tuple[list[ast.AST], list[ast.AST]]:
    """What running ``start`` can run or read of the student's own code.

    Returns ``start`` and every student-defined function it refers to (called, passed on
    or aliased, by name or as ``self.method``), transitively, so a forbidden call cannot
    hide in a helper; and, separately, the module-level values of the globals they read.
    """
    seen: dict[int, ast.AST] = {id(start): start}
    reached: list[ast.AST] = [start]
    globals_read: list[ast.AST] = []
    todo: list[ast.AST] = [start]
    while todo:
        for sub in ast.walk(todo.pop()):
            targets: list[ast.AST] = []
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                if sub.id in functions:
                    targets.append(functions[sub.id])
                targets += bindings.get(sub.id, [])
            elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
                if sub.value.id in {"self", "cls"} and sub.attr in functions:
                    targets.append(functions[sub.attr])
            for target in targets:
                if id(target) in seen:
                    continue
                seen[id(target)] = target
                todo.append(target)
                is_function = isinstance(target, ast.FunctionDef | ast.AsyncFunctionDef)
                (reached if is_function else globals_read).append(target)
    return reached, globals_read


def _uses(node: ast.AST, names: Iterable[str], loops: bool = True) -> set[str]:
    """The forbidden identifiers (and ``for``/``while`` loops) used inside ``node``.

    An entry written ``.name`` matches attribute uses only (``tf.nn.pool``, not a local
    variable called ``pool``). Literal lookups (``getattr(tf, "GradientTape")``) count as
    attribute uses. ``loops=False`` ignores loops (a global computed once by a loop is not
    a loop in the function).
    """
    names = tuple(names)
    wanted = {n for n in names if not n.startswith(".")}
    attributes = wanted | {n[1:] for n in names if n.startswith(".")}
    used: set[str] = set()
    kinds = {word: k for word, k in LOOPS.items() if word in wanted} if loops else {}
    for sub in ast.walk(node):
        for word, loop_kinds in kinds.items():
            if isinstance(sub, loop_kinds):
                used.add(f"a `{word}` loop")
        if isinstance(sub, ast.Attribute) and sub.attr in attributes:
            used.add(sub.attr)
        elif isinstance(sub, ast.Name) and sub.id in wanted:
            used.add(sub.id)
        elif isinstance(sub, ast.alias) and sub.name.rsplit(".", 1)[-1] in wanted:
            used.add(sub.name)
    used |= literal_lookups(node) & attributes
    return used


def run_static_checks(
    checks: Iterable[StaticCheck],
    student_code: Mapping[str, str],
    limits: ReaderLimits = DEFAULT_LIMITS,
) -> dict[str, str]:
    """Return ``test id -> message`` for every check that fires on the student's code.

    A check also fires when the function (or a helper or global it reaches) uses a dynamic
    lookup (:mod:`autograder.dynamic`): what it uses could not be read from the source.
    When a student cell cannot be analysed (too large or too deeply nested), every check
    fires: a forbidden call could hide in it.
    """
    checks = list(checks)
    if not checks:
        return {}
    parsed = {where: parse_source(source, limits) for where, source in student_code.items()}
    unchecked = {where: why for where, why in parsed.items() if isinstance(why, str)}
    if unchecked:
        where, why = next(iter(unchecked.items()))
        message = (
            f"the code in cell `{where}` {why}, so the required checks on your functions could "
            "not be made; split or simplify it"
        )
        return {check.test: message for check in checks}
    trees = [tree for tree in parsed.values() if isinstance(tree, ast.Module)]
    functions = _functions(trees)
    bindings = _module_bindings(trees)
    failures: dict[str, str] = {}
    for check in checks:
        func = functions.get(check.function)
        if func is None:
            continue  # the dynamic test already fails when the function is missing
        reached, globals_read = _reachable(func, functions, bindings)
        used: set[str] = set()
        lookups: list[Lookup] = []
        for body in reached:
            used |= _uses(body, check.forbid)
        for value in globals_read:
            used |= _uses(value, check.forbid, loops=False)
        for node in [*reached, *globals_read]:
            lookups += dynamic_lookups(node)
        if lookups:
            first = min(lookups, key=lambda lk: lk.line)
            failures.setdefault(
                check.test,
                f"`{check.function}` uses a dynamic lookup ({first.what}, line {first.line} of "
                "its cell): getattr/setattr with computed names, __import__, importlib, exec, "
                "eval, compile and lookups in globals()/vars()/__dict__ are not allowed in a "
                "function this test checks by reading its source. Write the calls out directly."
                + (f" {check.message}" if check.message else ""),
            )
        elif used:
            message = check.message or f"`{check.function}` must not use {', '.join(sorted(used))}"
            failures.setdefault(check.test, message)
    return failures


#: Names that usually hold imported modules, whether or not the student imported them.
MODULE_ALIASES = frozenset(
    {"tf", "np", "keras", "tensorflow", "numpy", "layers", "sys", "os", "random", "math"}
)


def _patches(tree: ast.Module) -> list[tuple[int, str]]:
    """Assignments to (or deletions of) attributes of imported modules: ``tf.Tensor = ...``."""
    modules = set(MODULE_ALIASES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store | ast.Del):
                    root = sub.value
                    while isinstance(root, ast.Attribute):
                        root = root.value
                    if isinstance(root, ast.Name) and root.id in modules:
                        try:
                            found.append((sub.lineno, ast.unparse(sub)))
                        except (RecursionError, ValueError):
                            found.append((sub.lineno, sub.attr))
    return found


def review_flags(
    student_code: Mapping[str, str], limits: ReaderLimits = DEFAULT_LIMITS
) -> list[str]:
    """Review flags: code that reaches into the grader, hides lookups, reads public labels.

    Besides the text patterns, every dynamic lookup (:mod:`autograder.dynamic`) and every
    assignment to an attribute of an imported module (``tf.Tensor = ...``) is flagged with
    its line. Flags never change a score.
    """
    flags: list[str] = []
    for where, source in student_code.items():
        if len(source) > limits.static_source_chars:
            flags.append(f"cell `{where}` is too large to scan ({len(source)} characters)")
            source = source[: limits.static_source_chars]
        for pattern, label in REVIEW_PATTERNS:
            if re.search(pattern, source, flags=re.MULTILINE):
                flags.append(f"cell `{where}` {label}")
        flags.extend(f"cell `{where}` {label}" for label in public_data_flags(source))
        tree = parse_source(source, limits)
        if isinstance(tree, str):
            flags.append(f"cell `{where}` is too deeply nested to analyse")
            continue
        if tree is None:
            continue
        for lookup in dynamic_lookups(tree):
            flags.append(f"cell `{where}` line {lookup.line}: dynamic lookup ({lookup.what})")
        for line, target in _patches(tree):
            flags.append(f"cell `{where}` line {line}: patches a module (assigns `{target}`)")
    return sorted(set(flags))
