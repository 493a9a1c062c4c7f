"""Find the uses of forbidden identifiers (and loops) in a student's function.

A forbidden identifier fires only as a use of the API, never on the student's own names:
see :class:`_UseFinder` for the rules.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from autograder.judge.dynamic import literal_lookup_at
from autograder.judge.student_code import SCOPES, Student

#: ``forbid`` entries that name loop statements rather than identifiers.
LOOPS: dict[str, tuple[type[ast.AST], ...]] = {
    "for": (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp),
    "while": (ast.While,),
}


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


def find_uses(
    node: ast.AST, names: Iterable[str], student: Student, loops: bool = True
) -> list[Use]:
    """The uses of forbidden identifiers (and ``for``/``while`` loops) inside ``node``.

    See :class:`_UseFinder` for what counts as a use. ``loops=False`` ignores loops (a
    global computed once by a loop is not a loop in the function).
    """
    finder = _UseFinder(names, student, loops)
    finder.visit(node)
    return finder.found
