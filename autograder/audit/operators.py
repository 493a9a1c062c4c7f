"""Mutation operators: plausible student mistakes as libcst node rewrites (pure, no I/O).

Each operator takes one libcst node and returns the replacements it proposes for it, as
``(new_node, description)`` pairs; :mod:`autograder.audit.generate` applies them one at a
time inside the solution regions of a cell. The ML operators come first so that, when two
operators yield the same mutated source, the more specific name is kept.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

Proposal = tuple[cst.CSTNode, str]
Operator = Callable[[cst.CSTNode], list[Proposal]]

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


def _called_name(node: cst.Call) -> str:
    func = node.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


def _keyword(node: cst.CSTNode, *names: str) -> str:
    if isinstance(node, cst.Arg) and node.keyword is not None and node.keyword.value in names:
        return node.keyword.value
    return ""


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _quoted(node: cst.SimpleString, text: str) -> cst.SimpleString:
    quote = node.value[-1]
    return cst.SimpleString(f"{quote}{text}{quote}")


# --- ML-specific operators -------------------------------------------------------------


def swap_axis(node: cst.CSTNode) -> list[Proposal]:
    """``axis=0`` -> ``axis=1`` / ``axis=-1`` (and the other ways round)."""
    if not _keyword(node, "axis") or not isinstance(node, cst.Arg):
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
    name = _called_name(node)
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
    if _keyword(node, "activation") and isinstance(node, cst.Arg):
        value = node.value
        text = _string(value)
        if text in _ACTIVATIONS and isinstance(value, cst.SimpleString):
            others = [a for a in ("relu", "sigmoid", "tanh") if a != text][:2]
            out: list[Proposal] = [
                (node.with_changes(value=_quoted(value, o)), f"activation {text} -> {o}")
                for o in others
            ]
            if text != "linear":
                out.append(
                    (node.with_changes(value=cst.Name("None")), f"activation {text} -> None")
                )
            return out
        if isinstance(value, cst.Name) and value.value == "None":
            quoted = cst.SimpleString('"relu"')
            return [(node.with_changes(value=quoted), "activation None -> relu")]
        return []
    if isinstance(node, cst.Attribute) and node.attr.value in _ACTIVATION_FUNCS:
        new = _ACTIVATION_FUNCS[node.attr.value]
        return [(node.with_changes(attr=cst.Name(new)), f"{node.attr.value} -> {new}")]
    if isinstance(node, cst.Call) and _called_name(node) in _ACTIVATION_FUNCS and node.args:
        if isinstance(node.func, cst.Attribute) and node.args[0].keyword is None:
            return [(node.args[0].value, f"removed the {_called_name(node)} activation")]
    return []


def flip_training(node: cst.CSTNode) -> list[Proposal]:
    """``training=True`` <-> ``False``; ``trainable=False`` -> ``True`` (also as assignment)."""
    if _keyword(node, "training", "trainable") and isinstance(node, cst.Arg):
        value = node.value
        if isinstance(value, cst.Name) and value.value in ("True", "False"):
            if _keyword(node, "trainable") and value.value == "True":
                return []
            flipped = "False" if value.value == "True" else "True"
            name = _keyword(node, "training", "trainable")
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
    if _keyword(node, "dtype") and isinstance(node, cst.Arg):
        value = node.value
        text = _string(value)
        if text in _DTYPES and isinstance(value, cst.SimpleString):
            return [
                (node.with_changes(value=_quoted(value, o)), f"dtype {text} -> {o}")
                for o in _DTYPES[text]
            ]
    return []


def remove_stop_gradient(node: cst.CSTNode) -> list[Proposal]:
    """``tf.stop_gradient(x)`` -> ``x``."""
    if isinstance(node, cst.Call) and _called_name(node) == "stop_gradient" and node.args:
        return [(node.args[0].value, "removed stop_gradient")]
    return []


# --- classic operators -----------------------------------------------------------------


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


#: Operator name -> operator, in priority order (ML-specific first).
OPERATORS: dict[str, Operator] = {
    "axis": swap_axis,
    "transpose": transpose,
    "reduction": swap_reduction,
    "drop_term": drop_term,
    "off_by_one": off_by_one,
    "activation": swap_activation,
    "training": flip_training,
    "dtype": change_dtype,
    "stop_gradient": remove_stop_gradient,
    "arithmetic": swap_arithmetic,
    "comparison": swap_comparison,
    "constant": change_constant,
    "return": change_return,
    "remove_statement": remove_statement,
    "augassign": augassign_to_assign,
}
