"""The wire protocol across the sandbox boundary: the job spec, the file names, the records.

A job directory holds ``in/`` (written by the trusted side, read-only in the sandbox) and
``out/`` (written by the sandbox, read back defensively by :mod:`autograder.run.job_output`)::

    in/job.json          JobSpec                      trusted side -> runtime
    in/grader/           the hidden tests
    in/data/             held-out dataset inputs
    in/handover/         a fresh job's copy of the hand-over (+ handover.json)
    out/cells.jsonl      Ready, CellStarted, CellEnded, Phase     runtime -> trusted side
    out/tests.jsonl      TestReport (with RecordedValue, EncodedValue), CollectError
    out/values/v00001.npy  the arrays an EncodedValue names
    out/runtime_error.txt  the runtime's own traceback (instructors only)
    out/handover/<name>/   files a grading job hands over to the fresh job

Every record type has its writer (``to_record``) beside its parser (``from_record``). The
parsers take what ``json.loads`` returned, check its structure and types, and raise
:class:`Malformed` for anything else; they never evaluate or unpickle. They do not cut
strings or load arrays: the trusted reader keeps its own limits. This package is mounted
in the sandbox (``gradetape_runtime.protocol``), so it uses the standard library only and
relative imports; the trusted side imports it as ``autograder.runtime.protocol``.
"""

from .cells import CellEnded, CellEvent, CellStarted, Phase, Ready, parse_cell_event
from .fields import Malformed
from .job import JobCell, JobSpec
from .names import (
    ALLOWED_KINDS,
    CELLS_FILE,
    DATA_DIR,
    GRADER_DIR,
    HANDOVER_DIR,
    HANDOVER_NAME,
    HANDOVER_REPORT,
    IN_DIR,
    JOB_FILE,
    MAX_TEXT,
    OUT_DIR,
    RUNTIME_ERROR_FILE,
    TESTS_FILE,
    TIMESTAMP,
    VALUE_FILE,
    VALUES_DIR,
    value_file,
)
from .reports import CollectError, EncodedValue, RecordedValue, TestReport, parse_test_line

#: Every record the runtime writes to ``out/`` (each knows its ``FILE``).
Record = CellEvent | TestReport | CollectError

__all__ = [
    "ALLOWED_KINDS",
    "CELLS_FILE",
    "DATA_DIR",
    "GRADER_DIR",
    "HANDOVER_DIR",
    "HANDOVER_NAME",
    "HANDOVER_REPORT",
    "IN_DIR",
    "JOB_FILE",
    "MAX_TEXT",
    "OUT_DIR",
    "RUNTIME_ERROR_FILE",
    "TESTS_FILE",
    "TIMESTAMP",
    "VALUES_DIR",
    "VALUE_FILE",
    "CellEnded",
    "CellEvent",
    "CellStarted",
    "CollectError",
    "EncodedValue",
    "JobCell",
    "JobSpec",
    "Malformed",
    "Phase",
    "Ready",
    "Record",
    "RecordedValue",
    "TestReport",
    "parse_cell_event",
    "parse_test_line",
    "value_file",
]
