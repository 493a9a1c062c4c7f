"""Type checks of the protocol's parsers: a wrong field raises :class:`Malformed`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .names import MAX_CELL_INDEX


class Malformed(ValueError):
    """A job spec or record that does not follow the protocol; the message says what is wrong."""


def as_object(raw: Any, what: str) -> dict[str, Any]:
    """``raw`` if it is a JSON object (raises :class:`Malformed` naming ``what`` if not)."""
    if not isinstance(raw, dict):
        raise Malformed(f"{what} is not a JSON object")
    return raw


def optional(raw: Mapping[str, Any], key: str, types: tuple[type, ...], default: Any) -> Any:
    """``raw[key]`` if it has one of ``types`` (never a bool for numbers), else ``default``.

    Raises:
        Malformed: If the key is there with another type.
    """
    if key not in raw:
        return default
    value = raw[key]
    numeric = any(t in (int, float) for t in types)
    if isinstance(value, bool) and bool not in types and numeric:
        raise Malformed(f"{key!r} is a boolean, not a number")
    if not isinstance(value, types):
        names = " or ".join(t.__name__ for t in types)
        raise Malformed(f"{key!r} is {type(value).__name__}, not {names}")
    return value


def required(raw: Mapping[str, Any], key: str, types: tuple[type, ...]) -> Any:
    """``raw[key]``, which must be there with one of ``types``."""
    if key not in raw:
        raise Malformed(f"{key!r} is missing")
    return optional(raw, key, types, None)


def number(raw: Mapping[str, Any], key: str, default: float) -> float:
    """A number; ``null`` (the reader's non-finite number) gives ``default``."""
    value = optional(raw, key, (int, float, type(None)), default)
    return default if value is None else float(value)


def cell_index(raw: Mapping[str, Any]) -> int:
    """The record's ``index``: an integer from 0 to :data:`MAX_CELL_INDEX` (exclusive)."""
    index = required(raw, "index", (int,))
    if not 0 <= index < MAX_CELL_INDEX:
        raise Malformed(f"cell index {index} is out of range")
    return int(index)


def strings(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """``raw[key]`` as a tuple of strings (empty when absent)."""
    items = optional(raw, key, (list,), [])
    if not all(isinstance(item, str) for item in items):
        raise Malformed(f"{key!r} holds something other than strings")
    return tuple(items)
