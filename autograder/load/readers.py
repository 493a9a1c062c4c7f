"""Limits and safe parsers for everything the trusted side reads from a submission or a job.

A submitted notebook and a job's output are hostile input. Python's own parsers fail on
some of it in ways that are not ``ValueError``: ``json.loads`` and ``ast.parse`` raise
``RecursionError`` or ``MemoryError`` on deeply nested input, ``int()`` refuses more than
4300 digits, and an ``.npy`` header can declare a shape whose element count overflows
``np.prod``. The readers check those limits first, with the cheap iterative scans here, and
turn every failure into a readable reason (:class:`Unreadable`), never a crash.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ReaderLimits:
    """What the trusted readers accept; anything beyond is refused with a reason.

    Attributes:
        json_depth: Deepest nesting of arrays and objects in one JSON document (a job's
            record line or a notebook). Python's ``json`` recurses, so much deeper input
            raises ``RecursionError``.
        int_digits: Most digits of an integer in a job's JSON (Python refuses to parse more
            than 4300 and a huge integer costs quadratic time).
        line_bytes: Longest JSON line in a job's output file.
        jsonl_bytes: Largest job output file of JSON lines.
        records: Most records read from one JSON lines file.
        npy_ndim: Highest rank of a returned array.
        npy_elements: Most elements of a returned array (bytes are limited per exercise).
        notebook_bytes: Largest notebook file.
        notebook_depth: Deepest JSON nesting of a notebook.
        cells: Most cells in a notebook.
        cell_source_chars: Longest source of one cell.
        static_source_chars: Longest source the static checks parse (``ast.parse`` needs
            memory and time in proportion).
        message_chars: Longest error text shown to a student (type and first line only).
    """

    json_depth: int = 64
    int_digits: int = 100
    line_bytes: int = 1 << 20
    jsonl_bytes: int = 8 << 20
    records: int = 5000
    npy_ndim: int = 32
    npy_elements: int = 1 << 28
    notebook_bytes: int = 20 << 20
    notebook_depth: int = 100
    cells: int = 2000
    cell_source_chars: int = 500_000
    static_source_chars: int = 100_000
    message_chars: int = 200


#: The limits every reader uses unless told otherwise.
DEFAULT_LIMITS = ReaderLimits()


class Unreadable(ValueError):
    """Input the trusted side refuses; the message says why in words a student can act on."""


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without recursing.

    String literals are removed first (brackets inside them do not count); the depth is
    then a running sum over the remaining brackets, computed with NumPy. For malformed JSON
    the figure is an upper bound, which is all a guard before ``json.loads`` needs.
    """
    structure = _STRING.sub("", text).encode("utf-8", errors="replace")
    codes = np.frombuffer(structure, dtype=np.uint8)
    if codes.size == 0:
        return 0
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(codes, (ord("]"), ord("}"))).astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


def loads(text: str, max_depth: int, max_int_digits: int | None = None) -> Any:
    """``json.loads`` that refuses deep nesting and huge integers instead of crashing.

    Non-finite numbers (``NaN``, ``Infinity``, ``1e999``) become ``None`` when
    ``max_int_digits`` is given (job output, where a number is a count or a tolerance).

    Raises:
        Unreadable: For text that is not JSON, nested deeper than ``max_depth``, or holds
            an integer longer than ``max_int_digits``.
    """
    depth = json_depth(text)
    if depth > max_depth:
        raise Unreadable(f"nested {depth} levels deep, over the limit of {max_depth}")
    hooks: dict[str, Any] = {}
    if max_int_digits is not None:
        digits = max_int_digits

        def parse_int(token: str) -> int:
            if len(token.lstrip("-")) > digits:
                raise Unreadable(f"an integer of more than {digits} digits")
            return int(token)

        hooks = {"parse_int": parse_int, "parse_float": _finite, "parse_constant": _no_constant}
    try:
        return json.loads(text, **hooks)
    except Unreadable:
        raise
    except (ValueError, RecursionError, MemoryError) as exc:
        raise Unreadable(f"not valid JSON ({type(exc).__name__})") from None


def _finite(token: str) -> float | None:
    number = float(token)
    return number if math.isfinite(number) else None


def _no_constant(token: str) -> None:
    return None


def short_error(text: object, limit: int = DEFAULT_LIMITS.message_chars) -> str:
    """Student-safe error text: the first non-blank line only, printable, at most ``limit``.

    A cell's or a test's error is ``"Type: message"``; keeping its first line only means
    it cannot carry a file (the seed, a grader's source) out of the sandbox, and dropping
    control and format characters keeps it safe in a database and on a page.
    """
    raw = text if isinstance(text, str) else str(text)
    first = ""
    for line in raw[: limit * 50].splitlines():
        if line.strip():
            first = line.strip()
            break
    clean = "".join(ch if ch.isprintable() else " " for ch in first[: limit * 4])
    clean = " ".join(clean.split())
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


_FRAME_LINES = ("File ", "Traceback", "^")


def error_line(text: object, limit: int = DEFAULT_LIMITS.message_chars) -> str:
    """The one line of an exception message a student may read, at most ``limit`` characters.

    The first line that is not a stack frame; when that is only TensorFlow's "in user
    code:" header, the last such line (the real error). Never more than one line.
    """
    raw = text if isinstance(text, str) else str(text)
    lines = [ln.strip() for ln in raw[: 1 << 16].splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(_FRAME_LINES)]
    if not lines:
        return ""
    chosen = lines[-1] if lines[0].endswith("in user code:") else lines[0]
    return short_error(chosen, limit)


_TAG = re.compile(r"[^A-Za-z0-9_.\[\]]")


def safe_tag(text: object, limit: int = 40) -> str:
    """A type tag from the sandbox (``tf.Tensor``, ``ndarray``) reduced to name characters."""
    return _TAG.sub("", str(text)[: limit * 4])[:limit] or "?"


def check_array_header(
    shape: Any, itemsize: int, max_bytes: int, limits: ReaderLimits = DEFAULT_LIMITS
) -> int:
    """Validate an ``.npy`` header's shape before anything is allocated; return its bytes.

    The element count is computed with Python integers, so an impossible shape such as
    ``(2**62, 2**62)`` is refused here instead of overflowing ``np.prod``.

    Raises:
        Unreadable: For a malformed shape, a rank over ``limits.npy_ndim``, or too many
            elements or bytes.
    """
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise Unreadable("malformed array shape")
    if len(shape) > limits.npy_ndim:
        raise Unreadable(f"array of rank {len(shape)} is over the limit of {limits.npy_ndim}")
    count = math.prod(shape)
    if count > limits.npy_elements:
        raise Unreadable(f"array of {count} elements is over the limit")
    size = count * itemsize
    if size > max_bytes:
        raise Unreadable(f"array of {size} bytes is over the limit")
    return size
