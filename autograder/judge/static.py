"""Checks on the student's source, run on the trusted side: static checks and review flags.

Static checks take a test's points when a function uses something it must not (for
example ``GradientTape`` inside a manual backward pass). Review flags mark sources that
reach into the grading machinery for an instructor to look at; they never change a score.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from autograder.judge.dynamic import Lookup, dynamic_lookups, literal_lookup_at
from autograder.judge.public_data import public_data_flags
from autograder.load.exercise import StaticCheck
from autograder.load.readers import DEFAULT_LIMITS, ReaderLimits

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
    "for": (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp),
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
        try:
            return ast.parse(source)
        except SyntaxError:
            return _parse_ipython(source)
    except SyntaxError:
        return None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        return "is too deeply nested"


def _parse_ipython(source: str) -> ast.Module:
    """Parse a cell with IPython syntax, keeping the cell's own line numbers.

    IPython's transformer drops leading blank lines; the tree's lines are shifted back.
    """
    code = transform(source)

    def blank_head(text: str) -> int:
        lines = text.splitlines()
        return next((i for i, line in enumerate(lines) if line.strip()), len(lines))

    tree = ast.parse(code)
    dropped = blank_head(source) - blank_head(code)
    return ast.increment_lineno(tree, dropped) if dropped > 0 else tree


Function = ast.FunctionDef | ast.AsyncFunctionDef
#: Nodes that open a new scope for the names bound inside them.
SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
#: How many uses a failure message lists.
SHOWN_USES = 3
#: The largest expression (in syntax nodes) a message quotes.
QUOTED_NODES = 40


@dataclass(frozen=True)
class Use:
    """One use of a forbidden identifier (or loop) in the student's code.

    Attributes:
        identifier: The forbidden entry that matched (``GradientTape``, ``a `for` loop``).
        how: The use, in words, quoting the student's own code (``calls `tape.gradient```).
        cell: The ``grade_id`` of the cell it is in.
        line: Line number in that cell.
    """

    identifier: str
    how: str
    cell: str
    line: int


@dataclass(frozen=True)
class Student:
    """What the student's cells define, read once per submission.

    Attributes:
        functions: The last definition of each function (nested ones too) by name, and of
            each method by ``Class.name``.
        methods: Every method of every student class, by bare name.
        classes: Every student class -> its methods.
        bindings: Module-level names -> what they are bound to (see ``_module_bindings``).
        attributes: Attribute names the student's code defines: methods and class attributes
            of its classes, attributes it assigns (``self.grad = 0.0``).
        cells: ``id(node)`` -> the cell the node comes from.
        writers: Attribute name -> what gives it its value: the functions that assign it
            (``self.x = ...``), class-level and module-level assigned values.
        outer: ``id(function)`` -> the function it is defined in (nested definitions).
    """

    functions: dict[str, Function]
    methods: dict[str, list[Function]]
    classes: dict[str, list[Function]]
    bindings: dict[str, list[ast.AST]]
    attributes: frozenset[str]
    cells: dict[int, str]
    writers: dict[str, list[ast.AST]] = field(default_factory=dict)
    outer: dict[int, ast.AST] = field(default_factory=dict)

    def nested_in(self, node: ast.AST, among: set[int]) -> bool:
        """Whether ``node`` is defined inside one of the functions whose ids are ``among``."""
        parent = self.outer.get(id(node))
        while parent is not None:
            if id(parent) in among:
                return True
            parent = self.outer.get(id(parent))
        return False

    def own_global(self, name: str) -> bool:
        """Whether a module-level name is the student's own (a function, class or variable).

        Names bound by ``from module import name`` are not: their import is checked instead.
        """
        if name in self.functions or name in self.classes:
            return True
        return any(not isinstance(b, ast.alias) for b in self.bindings.get(name, []))


def _student(trees: Mapping[str, ast.Module]) -> Student:
    functions: dict[str, Function] = {}
    methods: dict[str, list[Function]] = {}
    classes: dict[str, list[Function]] = {}
    attributes: set[str] = set()
    cells: dict[int, str] = {}
    writers: dict[str, list[ast.AST]] = {}
    outer: dict[int, ast.AST] = {}
    for where, tree in trees.items():
        for stmt in _module_statements(tree):
            for target in (n for n in _assigned(stmt) if isinstance(n, ast.Attribute)):
                writers.setdefault(target.attr, []).append(getattr(stmt, "value", None) or stmt)
        in_class = {
            id(item)
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            for item in node.body
        }
        for node in ast.walk(tree):
            cells[id(node)] = where
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if id(node) not in in_class:  # methods are reached as attributes
                    functions[node.name] = node
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store):
                        writers.setdefault(sub.attr, []).append(node)
                    elif (
                        isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef) and sub is not node
                    ):
                        outer[id(sub)] = node  # the walk reaches inner definers later
            elif isinstance(node, ast.ClassDef):
                own = classes.setdefault(node.name, [])
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        functions[f"{node.name}.{item.name}"] = item
                        methods.setdefault(item.name, []).append(item)
                        own.append(item)
                        attributes.add(item.name)
                    for name in (n.id for n in _assigned(item) if isinstance(n, ast.Name)):
                        attributes.add(name)
                        writers.setdefault(name, []).append(getattr(item, "value", None) or item)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
                attributes.add(node.attr)
    return Student(
        functions=functions,
        methods=methods,
        classes=classes,
        bindings=_module_bindings(trees.values()),
        attributes=frozenset(attributes),
        cells=cells,
        writers=writers,
        outer=outer,
    )


def _module_statements(tree: ast.Module) -> list[ast.AST]:
    """The statements that run at module level (inside ``if``/``for``/``with``/``try`` too)."""
    found: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        for stmt in ast.iter_child_nodes(todo.pop()):
            if isinstance(stmt, ast.stmt) and not isinstance(stmt, SCOPES):
                found.append(stmt)
                todo.append(stmt)
    return found


def _assigned(stmt: ast.AST) -> list[ast.AST]:
    """Every node inside the targets of an assignment statement (empty for others)."""
    if isinstance(stmt, ast.Assign):
        return [sub for target in stmt.targets for sub in ast.walk(target)]
    if isinstance(stmt, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
        return list(ast.walk(stmt.target))
    return []


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


def _reachable(start: Function, student: Student) -> tuple[list[ast.AST], list[ast.AST]]:
    """What running ``start`` can run or read of the student's own code.

    Returns ``start`` and every student-defined function it refers to, transitively, so a
    forbidden call cannot hide in a helper: functions named (called, passed on or aliased),
    every method of a student class it names (constructor and operators included), every
    student method called like ``obj.name(...)`` on any object and every function that
    assigns an attribute it reads (``self.tape = tf.GradientTape()`` elsewhere); and,
    separately, the module-level and class-level values of the globals and attributes they
    read.
    """
    seen: dict[int, ast.AST] = {id(start): start}
    reached: list[ast.AST] = [start]
    globals_read: list[ast.AST] = []
    todo: list[ast.AST] = [start]
    while todo:
        for sub in ast.walk(todo.pop()):
            targets: list[ast.AST] = []
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                if sub.id in student.functions:
                    targets.append(student.functions[sub.id])
                targets += student.classes.get(sub.id, [])
                targets += student.bindings.get(sub.id, [])
            elif isinstance(sub, ast.Attribute):
                targets += student.methods.get(sub.attr, [])
                targets += student.writers.get(sub.attr, [])
            for target in targets:
                if id(target) in seen:
                    continue
                seen[id(target)] = target
                todo.append(target)
                is_function = isinstance(target, ast.FunctionDef | ast.AsyncFunctionDef)
                (reached if is_function else globals_read).append(target)
    return reached, globals_read


def _alias_of(stmt: ast.AST) -> bool:
    """Whether a statement assigns a bare name or an attribute chain (``m = tf.nn``).

    Such an alias may hold a module.
    """
    value = getattr(stmt, "value", None)
    if not isinstance(stmt, ast.Assign | ast.AnnAssign | ast.NamedExpr) or value is None:
        return False
    while isinstance(value, ast.Attribute):
        value = value.value
    return isinstance(value, ast.Name)


def _bound(scope: ast.AST) -> tuple[set[str], set[str]]:
    """The names a scope binds itself, and which of them may hold a module.

    Bound are parameters, assignment and loop targets, ``as`` names, nested definitions and
    imports, without the names it declares ``global``. Imports and aliases (``m = tf.nn``)
    may hold a module.
    """
    names: set[str] = set()
    imported: set[str] = set()
    declared: set[str] = set()
    arguments = getattr(scope, "args", None)
    if isinstance(arguments, ast.arguments):
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        names |= {a.arg for a in every}
    if isinstance(scope, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        for generator in scope.generators:
            names |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
        return names, imported
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif _alias_of(node):
            targets = (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            imported |= {t.id for t in targets if isinstance(t, ast.Name)}
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
            todo.extend(ast.iter_child_nodes(node))
            continue
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.Global):
            declared |= set(node.names)
        if not isinstance(node, SCOPES) and node is not arguments:
            todo.extend(ast.iter_child_nodes(node))
    return (names | imported) - declared, imported - declared


def _quote(node: ast.AST) -> str:
    """The student's own code for a node, shortened for a message."""
    if len(list(itertools.islice(ast.walk(node), QUOTED_NODES + 1))) > QUOTED_NODES:
        return "..."
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError):
        text = "..."
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class _Frame:
    """One enclosing scope: the names it binds, those that may hold a module, whether a class."""

    bound: set[str]
    imported: set[str]
    is_class: bool


class _UseFinder:
    """Finds the uses of forbidden identifiers in one function body or global value.

    A plain entry (``gradient``) fires on: an attribute access (``tape.gradient``,
    ``tf.GradientTape``) unless the attribute is the student's own (one of its methods or
    attributes) reached through one of its own names; a name that is neither local (a
    variable, parameter, loop or ``as`` target, nested definition) nor one of the student's
    own globals, so it comes from an import or the notebook's locked cells; an import of it;
    a literal lookup (``getattr(tf, "GradientTape")``). A ``.name`` entry fires on attribute
    uses and literal lookups only.
    """

    def __init__(self, forbid: Iterable[str], student: Student, loops: bool) -> None:
        forbid = tuple(forbid)
        self.names = {n for n in forbid if not n.startswith(".")}
        self.attributes = self.names | {n[1:] for n in forbid if n.startswith(".")}
        self.loops = {w: kinds for w, kinds in LOOPS.items() if w in self.names} if loops else {}
        self.student = student
        self.found: list[Use] = []

    def add(self, identifier: str, how: str, node: ast.AST) -> None:
        cell = self.student.cells.get(id(node), "?")
        self.found.append(Use(identifier, how, cell, int(getattr(node, "lineno", 0))))

    def local(self, name: str, chain: list[_Frame]) -> _Frame | None:
        """The innermost enclosing scope that binds ``name``, or None.

        A class body binds names for itself only, not for its methods.
        """
        innermost = len(chain) - 1
        for depth in range(innermost, -1, -1):
            frame = chain[depth]
            if name in frame.bound and (not frame.is_class or depth == innermost):
                return frame
        return None

    def own_root(self, node: ast.AST, chain: list[_Frame]) -> bool:
        """Whether an attribute chain starts at the student's own object, not at a module."""
        while isinstance(node, ast.Attribute):
            node = node.value
        if not isinstance(node, ast.Name):
            return True  # a call's or a subscript's result: an object, not a module
        frame = self.local(node.id, chain)
        if frame is not None:
            return node.id not in frame.imported
        bindings = self.student.bindings.get(node.id, [])
        if any(isinstance(b, ast.Name | ast.Attribute | ast.alias) for b in bindings):
            return False  # a module-level alias (``m = tf.nn``) or import
        return self.student.own_global(node.id)

    def visit(self, root: ast.AST) -> None:
        """Record the uses in ``root`` (iteratively: deep code cannot exhaust the stack)."""
        todo: list[tuple[ast.AST, list[_Frame]]] = [(root, [])]
        while todo:
            node, chain = todo.pop()
            if isinstance(node, SCOPES):
                bound, imported = _bound(node)
                chain = [*chain, _Frame(bound, imported, isinstance(node, ast.ClassDef))]
            self.check(node, chain)
            todo.extend((child, chain) for child in ast.iter_child_nodes(node))

    def check(self, node: ast.AST, chain: list[_Frame]) -> None:
        """Record the uses that ``node`` itself makes."""
        for word, kinds in self.loops.items():
            if isinstance(node, kinds):
                self.add(f"a `{word}` loop", "", node)
        if isinstance(node, ast.Attribute) and node.attr in self.attributes:
            owned = node.attr in self.student.attributes and self.own_root(node.value, chain)
            if not owned:
                self.add(node.attr, f"`{_quote(node)}`", node)
        elif isinstance(node, ast.Name) and node.id in self.names:
            if self.local(node.id, chain) is None and not self.student.own_global(node.id):
                self.add(node.id, "a name your code does not define", node)
        elif isinstance(node, ast.ImportFrom):
            for part in (node.module or "").split("."):
                if part in self.names:
                    self.add(part, f"an import from `{node.module}`", node)
        elif isinstance(node, ast.alias):
            for part in node.name.split("."):
                if part in self.names:
                    self.add(part, f"an import of `{node.name}`", node)
        looked_up = literal_lookup_at(node)
        for part in (looked_up or "").split("."):
            if part in self.attributes:
                self.add(part, f"looked up by `{_quote(node)}`", node)


def _uses(node: ast.AST, names: Iterable[str], student: Student, loops: bool = True) -> list[Use]:
    """The uses of forbidden identifiers (and ``for``/``while`` loops) inside ``node``.

    See :class:`_UseFinder` for what counts as a use. ``loops=False`` ignores loops (a
    global computed once by a loop is not a loop in the function).
    """
    finder = _UseFinder(names, student, loops)
    finder.visit(node)
    return finder.found


def run_static_checks(
    checks: Iterable[StaticCheck],
    student_code: Mapping[str, str],
    limits: ReaderLimits = DEFAULT_LIMITS,
) -> dict[str, str]:
    """Return ``test id -> message`` for every check that fires on the student's code.

    A check also fires when the function (or a helper or global it reaches) uses a dynamic
    lookup (:mod:`autograder.judge.dynamic`): what it uses could not be read from the source.
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
    trees = {where: tree for where, tree in parsed.items() if isinstance(tree, ast.Module)}
    student = _student(trees)
    failures: dict[str, str] = {}
    for check in checks:
        func = student.functions.get(check.function)
        if func is None:
            continue  # the dynamic test already fails when the function is missing
        reached, globals_read = _reachable(func, student)
        found: set[Use] = set()
        lookups: list[tuple[str, Lookup]] = []
        ids = {id(body) for body in reached}
        for body in reached:
            if not student.nested_in(body, ids):  # read with its enclosing function's names
                found.update(_uses(body, check.forbid, student))
        for value in globals_read:
            found.update(_uses(value, check.forbid, student, loops=False))
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

    Besides the text patterns, every dynamic lookup (:mod:`autograder.judge.dynamic`) and every
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
