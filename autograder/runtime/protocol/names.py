"""The file and folder names of a job directory, and the patterns names must match."""

from __future__ import annotations

import re

#: Folders and files of a job directory.
IN_DIR = "in"
OUT_DIR = "out"
JOB_FILE = "job.json"
GRADER_DIR = "grader"
DATA_DIR = "data"
HANDOVER_DIR = "handover"
HANDOVER_REPORT = "handover.json"
CELLS_FILE = "cells.jsonl"
TESTS_FILE = "tests.jsonl"
VALUES_DIR = "values"
RUNTIME_ERROR_FILE = "runtime_error.txt"
#: The name of the n-th value file, and the pattern every value file name must match.
VALUE_FILE = re.compile(r"^v\d{5}\.npy$")
#: A hand-over's name (``handover(name)``, ``fresh(name)``), checked on both sides.
HANDOVER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: dtype kinds that may cross the boundary (bool, signed, unsigned, float, complex).
ALLOWED_KINDS = "biufc"
#: Longest string value the runtime records.
MAX_TEXT = 10_000
#: The key of the wall-clock time (seconds since the epoch) the channel adds to each line.
TIMESTAMP = "t"
#: Cell indices a record may carry.
MAX_CELL_INDEX = 1_000_000


def value_file(number: int) -> str:
    """The file name of the ``number``-th recorded array (``v00001.npy``)."""
    return f"v{number:05d}.npy"
