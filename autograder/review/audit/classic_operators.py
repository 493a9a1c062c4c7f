"""Classic mutation operators: arithmetic, comparisons, constants, returns, statements.

Each takes one libcst node and returns ``(replacement, description)`` pairs (pure).
"""

from __future__ import annotations

import libcst as cst

from autograder.review.audit.nodes import Proposal, make_int

_ARITH: dict[type[cst.BaseBinaryOp], type[cst.BaseBinaryOp]] = {
    cst.Add: cst.Subtract,
    cst.Subtract: cst.Add,
    cst.Multiply: cst.Divide,
    cst.Divide: cst.Multiply,
    cst.FloorDivide: cst.Divide,
    cst.Power: cst.Multiply,
    cst.MatrixMultiply: cst.Multiply,
    cst.Modulo: cst.FloorDivide,
}
_AUG: dict[type[cst.BaseAugOp], type[cst.BaseAugOp]] = {
    cst.AddAssign: cst.SubtractAssign,
    cst.SubtractAssign: cst.AddAssign,
    cst.MultiplyAssign: cst.DivideAssign,
    cst.DivideAssign: cst.MultiplyAssign,
}
_COMPARE: dict[type[cst.BaseCompOp], type[cst.BaseCompOp]] = {
    cst.LessThan: cst.LessThanEqual,
    cst.LessThanEqual: cst.LessThan,
    cst.GreaterThan: cst.GreaterThanEqual,
    cst.GreaterThanEqual: cst.GreaterThan,
    cst.Equal: cst.NotEqual,
    cst.NotEqual: cst.Equal,
    cst.Is: cst.IsNot,
    cst.IsNot: cst.Is,
    cst.In: cst.NotIn,
    cst.NotIn: cst.In,
}
#: Module-like names a ``return`` mutant never returns on their own.
_MODULES = {"tf", "np", "keras", "layers", "math", "K", "None", "True", "False", "self"}


def swap_arithmetic(node: cst.CSTNode) -> list[Proposal]:
    """``+`` <-> ``-``, ``*`` <-> ``/``, ``**`` -> ``*``, ``@`` -> ``*`` (also ``+=``...)."""
    if isinstance(node, cst.BinaryOperation) and type(node.operator) in _ARITH:
        new = _ARITH[type(node.operator)]()
        return [
            (
                node.with_changes(operator=new),
                f"{type(node.operator).__name__} -> {type(new).__name__}",
            )
        ]
    if isinstance(node, cst.AugAssign) and type(node.operator) in _AUG:
        new_aug = _AUG[type(node.operator)]()
        return [
            (
                node.with_changes(operator=new_aug),
                f"{type(node.operator).__name__} -> {type(new_aug).__name__}",
            )
        ]
    return []


def swap_comparison(node: cst.CSTNode) -> list[Proposal]:
    """``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``, ``is`` <-> ``is not``."""
    if not isinstance(node, cst.Comparison):
        return []
    out: list[Proposal] = []
    for i, target in enumerate(node.comparisons):
        kind = type(target.operator)
        if kind in _COMPARE:
            new = target.with_changes(operator=_COMPARE[kind]())
            targets = [*node.comparisons[:i], new, *node.comparisons[i + 1 :]]
            out.append(
                (
                    node.with_changes(comparisons=targets),
                    f"{kind.__name__} -> {_COMPARE[kind].__name__}",
                )
            )
    return out


def change_constant(node: cst.CSTNode) -> list[Proposal]:
    """Integer constants +1 / -1; float constants x2."""
    if isinstance(node, cst.Integer):
        value = int(node.evaluated_value)
        return [(make_int(value + d), f"constant {value} -> {value + d}") for d in (1, -1)]
    if isinstance(node, cst.Float):
        doubled = float(node.evaluated_value) * 2
        return [(cst.Float(repr(doubled)), f"constant {node.value} -> {doubled!r}")]
    return []


class _Names(cst.CSTVisitor):
    """Plain variable names in an expression (not called, not a module's attribute base)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.skip: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        self.skip.add(id(node.func))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.skip.add(id(node.attr))
        if isinstance(node.value, cst.Name) and node.value.value in _MODULES:
            self.skip.add(id(node.value))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.skip.add(id(node.keyword))

    def visit_Name(self, node: cst.Name) -> None:
        if (
            id(node) not in self.skip
            and node.value not in _MODULES
            and node.value not in self.found
        ):
            self.found.append(node.value)


def change_return(node: cst.CSTNode) -> list[Proposal]:
    """``return expr`` -> ``return name`` for the first two variables in ``expr``, else None."""
    if not isinstance(node, cst.Return) or node.value is None:
        return []
    value = node.value
    if isinstance(value, cst.Name) and value.value == "None":
        return []
    names = _Names()
    value.visit(names)
    chosen = [n for n in names.found if not (isinstance(value, cst.Name) and value.value == n)][:2]
    if not chosen:
        return [(node.with_changes(value=cst.Name("None")), "returned None")]
    return [(node.with_changes(value=cst.Name(n)), f"returned {n}") for n in chosen]


def remove_statement(node: cst.CSTNode) -> list[Proposal]:
    """A simple statement (not a ``return``) replaced by ``pass``."""
    if isinstance(node, cst.SimpleStatementLine) and not any(
        isinstance(s, (cst.Return, cst.Pass)) for s in node.body
    ):
        return [(node.with_changes(body=[cst.Pass()]), "removed a statement")]
    return []


def augassign_to_assign(node: cst.CSTNode) -> list[Proposal]:
    """``x += y`` -> ``x = y``."""
    if isinstance(node, cst.AugAssign):
        assign = cst.Assign([cst.AssignTarget(node.target)], node.value, node.semicolon)
        return [(assign, "augmented assignment -> plain assignment")]
    return []
