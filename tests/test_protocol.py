"""The wire protocol: every record and the job spec survive writer -> JSON -> parser unchanged,
and the parsers reject what does not follow the protocol (they never evaluate anything)."""

import json

import numpy as np
import pytest

from autograder.run.job_output import read_job_output
from autograder.runtime import protocol
from autograder.runtime.channel import Channel
from autograder.runtime.protocol import (
    CellEnded,
    CellStarted,
    CollectError,
    EncodedValue,
    JobCell,
    JobSpec,
    Malformed,
    Phase,
    Ready,
    RecordedValue,
    TestReport,
    parse_cell_event,
    parse_test_line,
)

MB = 1 << 20


def wire(record):
    """What the trusted reader gets back: the record as one JSON line, parsed again."""
    return json.loads(json.dumps(record.to_record()))


SPECS = [
    JobSpec(notebook_seed=7, cells=(), cell_timeout=1.5, test_timeout=2.0),
    JobSpec(
        notebook_seed=123456,
        cells=(JobCell(0, "imports", "import numpy as np"), JobCell(3, "", "x = 'é\\n'\n")),
        cell_timeout=60.0,
        test_timeout=30.0,
        exercise="01_tensors",
        test_seeds={"test_a.py::test_b": 5, "test_a.py::test_a": 9},
        output_limit=100,
        max_value_bytes=2 * MB,
        select=("test_a.py::test_a",),
        fresh=True,
        tensorflow=False,
    ),
]


@pytest.mark.parametrize("spec", SPECS)
def test_job_spec_round_trip(spec):
    assert JobSpec.from_json(spec.to_json()) == spec


def test_job_spec_defaults_live_in_one_place():
    text = json.dumps({"notebook_seed": 1, "cells": [], "cell_timeout": 1, "test_timeout": 2})
    spec = JobSpec.from_json(text)
    assert (spec.output_limit, spec.max_value_bytes, spec.tensorflow, spec.fresh) == (
        20_000, 16 << 20, True, False)
    assert spec.select is None and spec.test_seeds == {} and spec.exercise == ""


@pytest.mark.parametrize(("change", "phrase"), [
    ({"notebook_seed": None}, "'notebook_seed' is NoneType"),
    ({"notebook_seed": True}, "boolean"),
    ({"course_seed": 1}, "unknown fields ['course_seed']"),
    ({"cells": [{"index": 0}]}, "'source' is missing"),
    ({"cells": [{"index": -1, "source": ""}]}, "out of range"),
    ({"cells": "x = 1"}, "'cells' is str"),
    ({"test_seeds": {"t.py::a": "1"}}, "integers"),
    ({"select": "t.py::a"}, "'select' is str"),
    ({"tensorflow": "no"}, "'tensorflow' is str"),
    ({"cell_timeout": "60"}, "'cell_timeout' is str"),
])
def test_malformed_job_spec_is_rejected(change, phrase):
    raw = {"notebook_seed": 1, "cells": [], "cell_timeout": 1, "test_timeout": 2, **change}
    with pytest.raises(Malformed, match=None) as info:
        JobSpec.from_json(json.dumps(raw))
    assert phrase in str(info.value)


def test_job_spec_without_a_notebook_seed_names_the_writer():
    with pytest.raises(Malformed, match="build jobs with autograder.run.jobs.write_job"):
        JobSpec.from_json(json.dumps({"cells": [], "cell_timeout": 1, "test_timeout": 1}))
    with pytest.raises(Malformed, match="not JSON"):
        JobSpec.from_json("{")


CELL_EVENTS = [
    Ready(),
    Ready(("/physical_device:CPU:0", "/physical_device:GPU:0"), tf32=True),
    CellStarted(0),
    CellStarted(12, "filled_impl"),
    CellEnded(3, "c3", ok=True),
    CellEnded(4, "c4", ok=False, error="NameError: name 'x' is not defined", output="hi\n"),
    Phase("grading"),
    Phase("done"),
]


@pytest.mark.parametrize("event", CELL_EVENTS, ids=repr)
def test_cell_event_round_trip(event):
    assert event.FILE == protocol.CELLS_FILE
    assert parse_cell_event(wire(event)) == event


ENCODED = [
    EncodedValue("None"),
    EncodedValue("str", text="hello"),
    EncodedValue("tf.Tensor", file="v00001.npy", dtype="<f4", shape=(2, 3)),
    EncodedValue("int", file="v00002.npy", dtype="<i8", shape=()),
    EncodedValue("object", error="TypeError: not numeric"),
]
REPORTS = [
    TestReport("t.py::test_a"),
    TestReport(
        "t.py::test_b[2-x]",
        question="creation",
        points=2.5,
        timeout=30.0,
        gpu=True,
        outcome="failed",
        message="AssertionError: no",
        values=tuple(
            RecordedValue(f"v{i}", enc, {"rtol": 1e-5, "check_dtype": False}, tensor=i == 2)
            for i, enc in enumerate(ENCODED)
        ),
    ),
    CollectError("test_g.py", "SyntaxError: invalid syntax"),
]


@pytest.mark.parametrize("record", REPORTS, ids=lambda r: type(r).__name__)
def test_test_report_round_trip(record):
    assert record.FILE == protocol.TESTS_FILE
    assert parse_test_line(wire(record)) == record


@pytest.mark.parametrize("value", ENCODED, ids=repr)
def test_encoded_value_round_trip(value):
    recorded = RecordedValue("x", value, {"labels": "digits", "min_accuracy": 0.8})
    assert RecordedValue.from_record(wire(recorded)) == recorded
    assert EncodedValue.from_record(json.loads(json.dumps(value.to_record()))) == value


@pytest.mark.parametrize(("raw", "phrase"), [
    ([1, 2], "not a JSON object"),
    ({"index": 1}, "'event' is missing"),
    ({"event": "start"}, "'index' is missing"),
    ({"event": "start", "index": 1.0}, "'index' is float"),
    ({"event": "start", "index": True}, "boolean"),
    ({"event": "start", "index": 10**9}, "out of range"),
    ({"event": "end", "index": 0, "ok": "yes"}, "'ok' is str"),
    ({"event": "end", "index": 0, "error": None}, "'error' is NoneType"),
    ({"event": "ready", "devices": [1]}, "other than strings"),
    ({"event": "__import__('os')"}, "unknown event"),
])
def test_malformed_cell_events_are_rejected(raw, phrase):
    with pytest.raises(Malformed) as info:
        parse_cell_event(raw)
    assert phrase in str(info.value)


@pytest.mark.parametrize(("raw", "phrase"), [
    ("t.py::a", "not a JSON object"),
    ({}, "'test' is missing"),
    ({"test": ""}, "empty"),
    ({"test": "t", "points": "1"}, "'points' is str"),
    ({"test": "t", "values": {"name": "x"}}, "'values' is dict"),
    ({"test": "t", "values": ["x"]}, "a recorded value is not a JSON object"),
    ({"test": "t", "values": [{"name": "x", "tol": [1]}]}, "'tol' is list"),
    ({"test": "t", "values": [{"name": "x", "shape": [2, -1]}]}, "non-negative"),
    ({"test": "t", "values": [{"name": "x", "tensor": 1}]}, "'tensor' is int"),
    ({"collect_error": 5}, "'collect_error' is int"),
])
def test_malformed_test_lines_are_rejected(raw, phrase):
    with pytest.raises(Malformed) as info:
        parse_test_line(raw)
    assert phrase in str(info.value)


def test_null_numbers_read_as_zero():
    """The trusted reader turns NaN and infinities into null; the parser reads them as 0."""
    report = parse_test_line({"test": "t", "points": None, "timeout": None})
    assert report.points == 0.0 and report.timeout == 0.0


def test_channel_writes_what_the_trusted_reader_reads(tmp_path):
    """End to end without a sandbox: the runtime's writers, then the defensive reader."""
    out = tmp_path / "out"
    channel = Channel(str(out), MB)
    channel.send(Ready(("cpu",), tf32=False))
    channel.send(CellStarted(0, "c0"))
    channel.send(CellEnded(0, "c0", ok=False, error="ValueError: bad"))
    channel.send(Phase("grading"))
    array = np.arange(6, dtype=np.int16).reshape(3, 2)
    values = (RecordedValue("a", channel.encode(array), {"atol": 0.1}, tensor=True),
              RecordedValue("s", channel.encode("text")),
              RecordedValue("big", Channel(str(out), 8).encode(np.zeros(4))))
    channel.send(TestReport("t.py::test_a", "q1", 2.0, 10.0, False, "passed", "", values))
    channel.send(CollectError("t.py", "boom"))
    channel.send(Phase("done"))
    output = read_job_output(str(out), MB, 64 * MB)
    assert output.problems == [] and output.finished and output.devices == ["cpu"]
    assert output.started_cells == [0] and output.cells[0].error == "ValueError: bad"
    test = output.tests["t.py::test_a"]
    assert (test.question, test.points, test.timeout, test.outcome) == ("q1", 2.0, 10.0, "passed")
    a, s, big = test.values
    assert a.value.tensor and a.tolerance == {"atol": 0.1}
    np.testing.assert_array_equal(a.value.array, array)
    assert a.value.array.dtype == np.int16 and s.value.text == "text"
    assert "too large" in big.value.error and big.value.array is None
    assert output.collect_errors == ["boom"]


def test_value_file_names_match_their_pattern():
    assert protocol.VALUE_FILE.match(protocol.value_file(1))
    assert protocol.VALUE_FILE.match(protocol.value_file(99999))
    assert not protocol.VALUE_FILE.match("../v00001.npy")


def test_a_phase_is_grading_or_done():
    with pytest.raises(Malformed, match="unknown event"):
        Phase.from_record({"event": "start"})
    with pytest.raises(ValueError, match="unknown phase"):
        Phase("finished").to_record()
