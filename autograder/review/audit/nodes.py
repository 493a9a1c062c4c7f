"""Small libcst helpers shared by the mutation operators (pure)."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

Proposal = tuple[cst.CSTNode, str]
Operator = Callable[[cst.CSTNode], list[Proposal]]


def int_literal(node: cst.CSTNode) -> int | None:
    """The value of an integer literal (``3`` or ``-3``), else ``None``."""
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer)
    ):
        return -int(node.expression.evaluated_value)
    return None


def make_int(value: int) -> cst.BaseExpression:
    """An integer literal node (a unary minus for negative values)."""
    if value < 0:
        return cst.UnaryOperation(cst.Minus(), cst.Integer(str(-value)))
    return cst.Integer(str(value))


def called_name(node: cst.Call) -> str:
    """The called function's last name (``tf.nn.relu(x)`` -> ``relu``), or ``""``."""
    func = node.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


def keyword(node: cst.CSTNode, *names: str) -> str:
    """The keyword of an argument ``name=...`` when it is one of ``names``, else ``""``."""
    if isinstance(node, cst.Arg) and node.keyword is not None and node.keyword.value in names:
        return node.keyword.value
    return ""


def string_value(node: cst.BaseExpression) -> str | None:
    """The text of a plain string literal, else ``None``."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def quoted(node: cst.SimpleString, text: str) -> cst.SimpleString:
    """A string literal holding ``text``, quoted like ``node``."""
    quote = node.value[-1]
    return cst.SimpleString(f"{quote}{text}{quote}")
