"""Dynamic lookups in student code: names a static reading of the source cannot see.

``getattr(tf, "Gradient" + "Tape")``, ``__import__("tensorflow")``, ``eval("...")`` or
``globals()[name]`` reach objects whose names never appear in the source, so a check that
reads the source (:mod:`autograder.judge.static`) cannot tell what they use. This module finds
them (for review flags and to fail static checks that would otherwise be dodged) and the
names that literal lookups do spell out (``getattr(tf, "GradientTape")`` uses
``GradientTape`` as surely as ``tf.GradientTape`` does).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

#: Builtins that look names up, run code or expose namespaces.
LOOKUP_BUILTINS = frozenset({"getattr", "setattr", "delattr"})
CODE_BUILTINS = frozenset({"__import__", "exec", "eval", "compile"})
NAMESPACE_BUILTINS = frozenset({"globals", "vars", "locals"})
#: Calls (by name or as methods) whose first string argument names what they look up.
LOOKUP_CALLS = frozenset(
    {
        "__getattribute__",
        "__getattr__",
        "__setattr__",
        "__delattr__",
        "attrgetter",
        "methodcaller",
        "import_module",
    }
)
#: Methods of a namespace mapping that read or write it by key.
MAPPING_METHODS = frozenset({"get", "pop", "setdefault", "__getitem__", "__setitem__"})
#: Modules whose mere use is a dynamic lookup.
DYNAMIC_MODULES = frozenset({"importlib", "builtins"})


@dataclass(frozen=True)
class Lookup:
    """One dynamic lookup.

    Attributes:
        line: Line number in the cell's source.
        what: What it is, in words (``"`getattr` with a computed name"``).
    """

    line: int
    what: str


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _namespace(node: ast.AST) -> str | None:
    """``globals()``, ``vars(x)``, ``locals()``, ``x.__dict__`` or ``sys.modules``; else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in NAMESPACE_BUILTINS
    ):
        return f"{node.func.id}()"
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return "__dict__"
    if isinstance(node, ast.Attribute) and node.attr == "modules":
        if isinstance(node.value, ast.Name) and node.value.id == "sys":
            return "sys.modules"
    return None


def _callee(call: ast.Call) -> str:
    func = call.func
    return (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )


def _looked_up(call: ast.Call) -> str | None:
    """The literal name a lookup call names, or None when it is computed.

    ``getattr(obj, "n")`` and ``object.__getattribute__(obj, "n")`` name it second,
    ``obj.__getattribute__("n")`` and ``attrgetter("n")`` first.
    """
    args = call.args
    if _callee(call) in LOOKUP_BUILTINS:
        return _literal(args[1]) if len(args) > 1 else None
    first = _literal(args[0]) if args else None
    if first is not None:
        return first
    return _literal(args[1]) if len(args) > 1 else None


def _namespace_key(node: ast.AST, parents: dict[int, ast.AST]) -> tuple[bool, str | None]:
    """How a namespace is used: (indexed by key, the literal key or None when computed)."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return True, _literal(parent.slice)
    if isinstance(parent, ast.Attribute) and parent.value is node:
        call = parents.get(id(parent))
        if parent.attr in MAPPING_METHODS and isinstance(call, ast.Call) and call.func is parent:
            return True, _literal(call.args[0]) if call.args else None
    return False, None


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def dynamic_lookups(tree: ast.AST) -> list[Lookup]:
    """Every dynamic lookup inside ``tree``, in source order."""
    parents = _parents(tree)
    found: set[Lookup] = set()

    def add(node: ast.AST, what: str) -> None:
        found.add(Lookup(int(getattr(node, "lineno", 0)), what))

    for node in ast.walk(tree):
        parent = parents.get(id(node))
        called = isinstance(parent, ast.Call) and parent.func is node
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            add(node, "`__builtins__` access")
        elif isinstance(node, ast.Name) and node.id in LOOKUP_BUILTINS | CODE_BUILTINS:
            if not called:
                add(node, f"`{node.id}` used other than by a direct call")
            elif node.id in CODE_BUILTINS:
                add(node, f"a `{node.id}` call")
        elif isinstance(node, ast.Attribute) and node.attr == "__builtins__":
            add(node, "`__builtins__` access")
        elif isinstance(node, ast.Attribute) and (
            isinstance(node.value, ast.Name) and node.value.id in DYNAMIC_MODULES
        ):
            add(node, f"`{node.value.id}.{node.attr}`")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            for module in modules:
                if module.split(".")[0] in DYNAMIC_MODULES:
                    add(node, f"an import of `{module}`")
        if isinstance(node, ast.Call):
            name = _callee(node)
            if (name in LOOKUP_BUILTINS or name in LOOKUP_CALLS) and _looked_up(node) is None:
                add(node, f"`{name}` with a computed name")
        space = _namespace(node)
        if space is not None:
            indexed, key = _namespace_key(node, parents)
            if not indexed:
                add(node, f"`{space}` used as a value")
            elif key is None:
                add(node, f"`{space}` indexed with a computed key")
    return sorted(found, key=lambda f: (f.line, f.what))


def literal_lookup_at(node: ast.AST) -> str | None:
    """The literal name this node itself looks up, or None.

    ``getattr(x, "name")``-like calls and ``globals()["name"]`` / ``vars(x).get("name")``
    name it; nested nodes are not searched (each is asked itself), so a caller walking a
    tree asks every node once.
    """
    if isinstance(node, ast.Call):
        if _callee(node) in LOOKUP_BUILTINS | LOOKUP_CALLS:
            return _looked_up(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in MAPPING_METHODS:
            if _namespace(func.value) is not None and node.args:
                return _literal(node.args[0])
    if isinstance(node, ast.Subscript) and _namespace(node.value) is not None:
        return _literal(node.slice)
    return None
