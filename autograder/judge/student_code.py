"""What a student's cells define, and what running one of their functions can reach.

The forbidden-use checks (:mod:`autograder.judge.forbidden_use`) follow a checked function
into every helper, method and global it reaches, so a forbidden call cannot hide in one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


def read_student(trees: Mapping[str, ast.Module]) -> Student:
    """Read what the student's parsed cells (``cell -> tree``) define; see :class:`Student`."""
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


def reachable(start: Function, student: Student) -> tuple[list[ast.AST], list[ast.AST]]:
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
