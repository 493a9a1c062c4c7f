"""``out/cells.jsonl``: the runtime's events and each cell's outcome, writer beside parser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .fields import Malformed, as_object, cell_index, optional, required, strings
from .names import CELLS_FILE


@dataclass(frozen=True)
class Ready:
    """The runtime started: the devices TensorFlow sees and whether TF32 is on."""

    FILE: ClassVar[str] = CELLS_FILE
    EVENT: ClassVar[str] = "ready"
    devices: tuple[str, ...] = ()
    tf32: bool = False

    def to_record(self) -> dict[str, Any]:
        """The JSON record."""
        return {"event": self.EVENT, "devices": list(self.devices), "tf32": self.tf32}

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Ready:
        """Parse the record (raises :class:`Malformed`)."""
        return cls(strings(raw, "devices"), optional(raw, "tf32", (bool,), False))


@dataclass(frozen=True)
class CellStarted:
    """A cell is about to run (a start without an end: the cell ended the process)."""

    FILE: ClassVar[str] = CELLS_FILE
    EVENT: ClassVar[str] = "start"
    index: int
    cell_id: str = ""

    def to_record(self) -> dict[str, Any]:
        """The JSON record."""
        return {"event": self.EVENT, "index": self.index, "cell_id": self.cell_id}

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> CellStarted:
        """Parse the record (raises :class:`Malformed`)."""
        return cls(cell_index(raw), optional(raw, "cell_id", (str,), ""))


@dataclass(frozen=True)
class CellEnded:
    """A cell's outcome: ``error`` is ``"Type: first line"`` when it raised."""

    FILE: ClassVar[str] = CELLS_FILE
    EVENT: ClassVar[str] = "end"
    index: int
    cell_id: str = ""
    ok: bool = False
    error: str = ""
    output: str = ""

    def to_record(self) -> dict[str, Any]:
        """The JSON record."""
        return {
            "event": self.EVENT,
            "index": self.index,
            "cell_id": self.cell_id,
            "ok": self.ok,
            "error": self.error,
            "output": self.output,
        }

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> CellEnded:
        """Parse the record (raises :class:`Malformed`)."""
        return cls(
            cell_index(raw),
            optional(raw, "cell_id", (str,), ""),
            optional(raw, "ok", (bool,), False),
            optional(raw, "error", (str,), ""),
            optional(raw, "output", (str,), ""),
        )


@dataclass(frozen=True)
class Phase:
    """The runtime reached a phase: ``grading`` (cells done) or ``done`` (tests done)."""

    FILE: ClassVar[str] = CELLS_FILE
    EVENTS: ClassVar[frozenset[str]] = frozenset({"grading", "done"})
    event: str

    def to_record(self) -> dict[str, Any]:
        """The JSON record."""
        if self.event not in self.EVENTS:
            raise ValueError(f"unknown phase {self.event!r}")
        return {"event": self.event}

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Phase:
        """Parse the record (raises :class:`Malformed`)."""
        event = required(raw, "event", (str,))
        if event not in cls.EVENTS:
            raise Malformed(f"unknown event {event[:40]!r}")
        return cls(event)


CellEvent = Ready | CellStarted | CellEnded | Phase


def parse_cell_event(raw: Any) -> CellEvent:
    """Parse one line of ``cells.jsonl``.

    Raises:
        Malformed: If it is not one of the protocol's cell events.
    """
    rec = as_object(raw, "the record")
    event = required(rec, "event", (str,))
    if event == Ready.EVENT:
        return Ready.from_record(rec)
    if event == CellStarted.EVENT:
        return CellStarted.from_record(rec)
    if event == CellEnded.EVENT:
        return CellEnded.from_record(rec)
    if event in Phase.EVENTS:
        return Phase.from_record(rec)
    raise Malformed(f"unknown event {event[:40]!r}")
