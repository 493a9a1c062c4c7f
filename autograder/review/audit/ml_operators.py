"""ML-specific mutation operators: the mistakes this course's students make (pure).

Each takes one libcst node and returns ``(replacement, description)`` pairs.
"""

from __future__ import annotations

import libcst as cst

from autograder.review.audit.nodes import (
    Proposal,
    called_name,
    int_literal,
    keyword,
    make_int,
    quoted,
    string_value,
)

_AXIS_SWAPS = {0: (1, -1), 1: (0, -1), -1: (0, 1)}
_REDUCE_SWAPS = {
    "reduce_mean": "reduce_sum",
    "reduce_sum": "reduce_mean",
    "mean": "sum",
    "sum": "mean",
    "reduce_max": "reduce_min",
    "reduce_min": "reduce_max",
    "argmax": "argmin",
    "argmin": "argmax",
}
_ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "linear")
_ACTIVATION_FUNCS = {"relu": "sigmoid", "sigmoid": "relu", "tanh": "sigmoid", "softmax": "sigmoid"}
_DTYPES = {
    "float32": ("float64", "int32"),
    "float64": ("float32",),
    "float16": ("float32",),
    "int32": ("float32", "int64"),
    "int64": ("int32",),
}


def swap_axis(node: cst.CSTNode) -> list[Proposal]:
    """``axis=0`` -> ``axis=1`` / ``axis=-1`` (and the other ways round)."""
    if not keyword(node, "axis") or not isinstance(node, cst.Arg):
        return []
    value = int_literal(node.value)
    if value is None:
        return []
    others = _AXIS_SWAPS.get(value, (0,))
    return [(node.with_changes(value=make_int(o)), f"axis={value} -> axis={o}") for o in others]


def transpose(node: cst.CSTNode) -> list[Proposal]:
    """Remove a transpose (``tf.transpose(x)``, ``x.T``) or add one to a ``matmul`` operand."""
    if isinstance(node, cst.Attribute) and node.attr.value == "T":
        return [(node.value, "removed .T")]
    if not isinstance(node, cst.Call) or not node.args:
        return []
    name = called_name(node)
    if name in ("transpose", "matrix_transpose") and node.args[0].keyword is None:
        return [(node.args[0].value, f"removed {name}")]
    if name == "matmul" and len(node.args) >= 2 and node.args[1].keyword is None:
        wrapped = cst.Call(cst.parse_expression("tf.transpose"), [cst.Arg(node.args[1].value)])
        args = [node.args[0], node.args[1].with_changes(value=wrapped), *node.args[2:]]
        return [(node.with_changes(args=args), "transposed the second matmul operand")]
    return []


def swap_reduction(node: cst.CSTNode) -> list[Proposal]:
    """``reduce_mean`` <-> ``reduce_sum``, ``mean`` <-> ``sum``, ``argmax`` <-> ``argmin``."""
    if isinstance(node, cst.Attribute) and node.attr.value in _REDUCE_SWAPS:
        new = _REDUCE_SWAPS[node.attr.value]
        return [(node.with_changes(attr=cst.Name(new)), f"{node.attr.value} -> {new}")]
    return []


def drop_term(node: cst.CSTNode) -> list[Proposal]:
    """``a + b`` -> ``a`` and -> ``b`` (also for ``-``): a forgotten term."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Add, cst.Subtract)):
        return [(node.left, "dropped the right term"), (node.right, "dropped the left term")]
    return []


def off_by_one(node: cst.CSTNode) -> list[Proposal]:
    """Integer slice bounds and indices moved by one (``x[1:]`` -> ``x[2:]`` / ``x[:]``...)."""
    out: list[Proposal] = []
    if isinstance(node, cst.Slice):
        for part in ("lower", "upper"):
            bound = getattr(node, part)
            value = int_literal(bound) if bound is not None else None
            if value is None:
                continue
            for delta in (1, -1):
                new = value + delta
                if new == 0 and value < 0 and part == "upper":
                    replacement = node.with_changes(**{part: None})  # x[:-1] -> x[:]
                else:
                    replacement = node.with_changes(**{part: make_int(new)})
                out.append((replacement, f"slice {part} bound {value} -> {value + delta}"))
    elif isinstance(node, cst.Index):
        value = int_literal(node.value)
        if value is not None:
            for delta in (1, -1):
                out.append(
                    (
                        node.with_changes(value=make_int(value + delta)),
                        f"index {value} -> {value + delta}",
                    )
                )
    return out


def swap_activation(node: cst.CSTNode) -> list[Proposal]:
    """``activation="relu"`` -> ``"sigmoid"``/``"tanh"``/``None``; ``tf.nn.relu`` -> sigmoid."""
    if keyword(node, "activation") and isinstance(node, cst.Arg):
        value = node.value
        text = string_value(value)
        if text in _ACTIVATIONS and isinstance(value, cst.SimpleString):
            others = [a for a in ("relu", "sigmoid", "tanh") if a != text][:2]
            out: list[Proposal] = [
                (node.with_changes(value=quoted(value, o)), f"activation {text} -> {o}")
                for o in others
            ]
            if text != "linear":
                out.append(
                    (node.with_changes(value=cst.Name("None")), f"activation {text} -> None")
                )
            return out
        if isinstance(value, cst.Name) and value.value == "None":
            relu = cst.SimpleString('"relu"')
            return [(node.with_changes(value=relu), "activation None -> relu")]
        return []
    if isinstance(node, cst.Attribute) and node.attr.value in _ACTIVATION_FUNCS:
        new = _ACTIVATION_FUNCS[node.attr.value]
        return [(node.with_changes(attr=cst.Name(new)), f"{node.attr.value} -> {new}")]
    if isinstance(node, cst.Call) and called_name(node) in _ACTIVATION_FUNCS and node.args:
        if isinstance(node.func, cst.Attribute) and node.args[0].keyword is None:
            return [(node.args[0].value, f"removed the {called_name(node)} activation")]
    return []


def flip_training(node: cst.CSTNode) -> list[Proposal]:
    """``training=True`` <-> ``False``; ``trainable=False`` -> ``True`` (also as assignment)."""
    if keyword(node, "training", "trainable") and isinstance(node, cst.Arg):
        value = node.value
        if isinstance(value, cst.Name) and value.value in ("True", "False"):
            if keyword(node, "trainable") and value.value == "True":
                return []
            flipped = "False" if value.value == "True" else "True"
            name = keyword(node, "training", "trainable")
            return [
                (node.with_changes(value=cst.Name(flipped)), f"{name}={value.value} -> {flipped}")
            ]
    if isinstance(node, cst.Assign) and isinstance(node.value, cst.Name):
        target = node.targets[0].target
        if isinstance(target, cst.Attribute) and target.attr.value == "trainable":
            if node.value.value == "False":
                return [(node.with_changes(value=cst.Name("True")), "trainable = False -> True")]
    return []


def change_dtype(node: cst.CSTNode) -> list[Proposal]:
    """``tf.float32`` -> ``tf.float64`` / ``tf.int32`` (and ``dtype="float32"`` strings)."""
    if isinstance(node, cst.Attribute) and node.attr.value in _DTYPES:
        return [
            (node.with_changes(attr=cst.Name(o)), f"{node.attr.value} -> {o}")
            for o in _DTYPES[node.attr.value]
        ]
    if keyword(node, "dtype") and isinstance(node, cst.Arg):
        value = node.value
        text = string_value(value)
        if text in _DTYPES and isinstance(value, cst.SimpleString):
            return [
                (node.with_changes(value=quoted(value, o)), f"dtype {text} -> {o}")
                for o in _DTYPES[text]
            ]
    return []


def remove_stop_gradient(node: cst.CSTNode) -> list[Proposal]:
    """``tf.stop_gradient(x)`` -> ``x``."""
    if isinstance(node, cst.Call) and called_name(node) == "stop_gradient" and node.args:
        return [(node.args[0].value, "removed stop_gradient")]
    return []
