"""The student's cells as syntax trees, parsed once per submission for every source check.

Static checks (:mod:`autograder.judge.static`) and review flags
(:mod:`autograder.judge.review_flags`) read the same trees: :func:`parse_cells` parses each
cell once and both take its result.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping

from autograder.load.readers import DEFAULT_LIMITS, ReaderLimits

#: A parsed cell: its tree, ``None`` for a syntax error, or why it cannot be checked.
Tree = ast.Module | str | None


def transform(source: str) -> str:
    """IPython syntax (``%magic``, ``!cmd``) to plain Python, so ``ast`` can parse it."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return str(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001 - fall back to the raw text
        return source


def parse_cells(
    student_code: Mapping[str, str], limits: ReaderLimits = DEFAULT_LIMITS
) -> dict[str, Tree]:
    """``cell -> tree`` of every student cell (see :func:`parse_source`), each parsed once.

    Every source check of the submission takes this one result; treat the trees as
    read-only.
    """
    return {where: parse_source(source, limits) for where, source in student_code.items()}


@functools.lru_cache(maxsize=256)
def parse_source(source: str, limits: ReaderLimits = DEFAULT_LIMITS) -> ast.Module | str | None:
    """The source's syntax tree; ``None`` for a syntax error; a reason when it cannot be checked.

    ``ast.parse`` raises ``RecursionError`` or ``MemoryError`` on very deep expressions
    (``"-" * 100000 + "1"``) that the sandbox's compiler may still run, so such code, and
    code over the size limit, is reported instead of being skipped. Trees are cached by
    source, so a cell many students or variants share (an untouched or copied cell) is
    parsed once; treat them as read-only.
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
