"""The sandbox side of the value channel: record values as JSON plus ``.npy`` files.

The records and file names are the protocol's (:mod:`.protocol`). The trusted side reads
these files with :mod:`autograder.run.job_output`, which enforces the limits again;
everything here is a convenience for honest graders, not a guarantee.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from .protocol import (
    ALLOWED_KINDS,
    MAX_TEXT,
    TIMESTAMP,
    VALUES_DIR,
    EncodedValue,
    Record,
    value_file,
)


def kind_of(value: Any) -> str:
    """A short type tag for a value, e.g. ``"tf.Tensor"``, ``"ndarray"``, ``"int"``."""
    module = type(value).__module__ or ""
    name = type(value).__name__
    if module.startswith(("tensorflow", "keras")):
        if "Variable" in name:
            return "tf.Variable"
        if "RaggedTensor" in name:
            return "tf.RaggedTensor"
        if "SparseTensor" in name:
            return "tf.SparseTensor"
        if "Tensor" in name:
            return "tf.Tensor"
        return "tf." + name
    if isinstance(value, np.ndarray):
        return "ndarray"
    if isinstance(value, np.generic):
        return "numpy." + name
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return type(value).__name__
    return "object"


def to_array(value: Any) -> np.ndarray:
    """Convert a tensor, array, scalar or nested list to a numeric numpy array.

    Raises:
        TypeError: If the value is not numeric (strings, objects, ragged lists).
    """
    if hasattr(value, "numpy") and callable(value.numpy) and not isinstance(value, np.ndarray):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind not in ALLOWED_KINDS:
        raise TypeError(f"a value of type {kind_of(value)} is not numeric (dtype {array.dtype})")
    return np.array(array, order="C", copy=True)


class Channel:
    """Writes recorded values for one job into ``out_dir``.

    Args:
        out_dir: The job's writable output directory.
        max_value_bytes: Largest array that will be written; larger ones are recorded as errors.
    """

    def __init__(self, out_dir: str, max_value_bytes: int) -> None:
        self.out_dir = out_dir
        self.values_dir = os.path.join(out_dir, VALUES_DIR)
        os.makedirs(self.values_dir, exist_ok=True)
        self.max_value_bytes = max_value_bytes
        self._count = 0

    def encode(self, value: Any) -> EncodedValue:
        """Encode one value: scalars and strings inline, arrays as ``.npy`` files."""
        kind = kind_of(value)
        if isinstance(value, str):
            return EncodedValue(kind, text=value[:MAX_TEXT])
        if value is None:
            return EncodedValue(kind)
        try:
            array = to_array(value)
        except Exception as exc:  # noqa: BLE001 - any failure is a recorded error
            return EncodedValue(kind, error=f"{type(exc).__name__}: {exc}"[:500])
        if array.nbytes > self.max_value_bytes:
            return EncodedValue(kind, error=f"value too large ({array.nbytes} bytes)")
        self._count += 1
        fname = value_file(self._count)
        np.save(os.path.join(self.values_dir, fname), array, allow_pickle=False)
        return EncodedValue(kind, file=fname, dtype=array.dtype.str, shape=tuple(array.shape))

    def send(self, record: Record) -> None:
        """Append a protocol record to its file."""
        self.append(record.FILE, record.to_record())

    def append(self, filename: str, record: Mapping[str, Any]) -> None:
        """Append one JSON record (a line) to ``filename`` in the output directory."""
        line = json.dumps({**record, TIMESTAMP: round(time.time(), 3)}, default=str, allow_nan=True)
        with open(os.path.join(self.out_dir, filename), "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
