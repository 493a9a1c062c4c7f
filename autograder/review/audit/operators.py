"""Mutation operators: plausible student mistakes as libcst node rewrites (pure, no I/O).

Each operator takes one libcst node and returns the replacements it proposes for it, as
``(new_node, description)`` pairs; :mod:`autograder.review.audit.generate` applies them one at a
time inside the solution regions of a cell. The ML operators come first so that, when two
operators yield the same mutated source, the more specific name is kept.
"""

from __future__ import annotations

from autograder.review.audit.classic_operators import (
    augassign_to_assign,
    change_constant,
    change_return,
    remove_statement,
    swap_arithmetic,
    swap_comparison,
)
from autograder.review.audit.ml_operators import (
    change_dtype,
    drop_term,
    flip_training,
    off_by_one,
    remove_stop_gradient,
    swap_activation,
    swap_axis,
    swap_reduction,
    transpose,
)
from autograder.review.audit.nodes import Operator, Proposal

__all__ = ["OPERATORS", "Operator", "Proposal"]

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
