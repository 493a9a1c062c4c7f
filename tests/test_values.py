import json
import os
import pickle

import numpy as np
import pytest

from autograder.runtime.channel import Channel
from autograder.values import read_job_output

MB = 1 << 20


def write_tests(out, records):
    with open(out / "tests.jsonl", "w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def record(name, extra):
    return {"test": "t.py::a", "question": "q", "points": 1, "outcome": "passed", "message": "",
            "values": [{"name": name, "tol": {}, **extra}]}


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    (d / "values").mkdir(parents=True)
    return d


def value_of(out, **limits):
    output = read_job_output(str(out), limits.get("max_value", MB), limits.get("total", 64 * MB))
    return output, output.tests["t.py::a"].values[0].value


def test_round_trip_through_channel(out):
    ch = Channel(str(out), MB)
    enc = ch.encode(np.arange(6, dtype=np.float32).reshape(2, 3))
    write_tests(out, [record("x", enc)])
    _, v = value_of(out)
    assert v.array.dtype == np.float32 and v.array.shape == (2, 3)


def test_scalar_keeps_zero_dimensions(out):
    enc = Channel(str(out), MB).encode(1)
    write_tests(out, [record("x", enc)])
    _, v = value_of(out)
    assert v.array.shape == () and v.kind == "int"


def test_pickle_is_refused(out):
    (out / "values" / "v00001.npy").write_bytes(pickle.dumps({"evil": 1}))
    write_tests(out, [record("x", {"kind": "ndarray", "file": "v00001.npy"})])
    _, v = value_of(out)
    assert v.array is None and v.error


def test_object_dtype_npy_is_refused(out):
    np.save(out / "values" / "v00001.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    write_tests(out, [record("x", {"kind": "ndarray", "file": "v00001.npy"})])
    _, v = value_of(out)
    assert v.array is None and "not allowed" in v.error


def test_oversized_array_is_refused(out):
    np.save(out / "values" / "v00001.npy", np.zeros(300_000))
    write_tests(out, [record("x", {"kind": "ndarray", "file": "v00001.npy"})])
    _, v = value_of(out, max_value=MB)
    assert v.array is None


def test_oversized_array_refused_by_channel_too(out):
    enc = Channel(str(out), 1000).encode(np.zeros(1000))
    assert "too large" in enc["error"]


def test_string_dtype_refused(out):
    np.save(out / "values" / "v00001.npy", np.array(["a", "b"]))
    write_tests(out, [record("x", {"kind": "ndarray", "file": "v00001.npy"})])
    _, v = value_of(out)
    assert v.array is None


def test_symlinked_value_file_is_refused(out, tmp_path):
    secret = tmp_path / "secret.npy"
    np.save(secret, np.ones(3))
    os.symlink(secret, out / "values" / "v00001.npy")
    write_tests(out, [record("x", {"kind": "ndarray", "file": "v00001.npy"})])
    _, v = value_of(out)
    assert v.array is None


def test_path_traversal_in_file_name_is_refused(out, tmp_path):
    np.save(tmp_path / "v00001.npy", np.ones(3))
    write_tests(out, [record("x", {"kind": "ndarray", "file": "../../v00001.npy"})])
    _, v = value_of(out)
    assert v.array is None and "name" in v.error


def test_symlinked_results_file_is_ignored(out, tmp_path):
    real = tmp_path / "elsewhere.jsonl"
    real.write_text(json.dumps(record("x", {"kind": "int", "str": "1"})) + "\n")
    os.symlink(real, out / "tests.jsonl")
    output = read_job_output(str(out), MB, 64 * MB)
    assert output.tests == {} and output.problems


def test_malformed_lines_are_skipped(out):
    (out / "tests.jsonl").write_text('not json\n[1,2]\n{"test": 5}\n' + json.dumps(record("x", {"kind": "str", "str": "ok"})) + "\n")
    output = read_job_output(str(out), MB, 64 * MB)
    assert "t.py::a" in output.tests
    assert any("not JSON" in p for p in output.problems)


def test_total_budget_limits_everything(out):
    (out / "tests.jsonl").write_text("x" * 5000)
    output = read_job_output(str(out), MB, 1000)
    assert output.tests == {} and output.problems


def test_missing_output_directory(tmp_path):
    output = read_job_output(str(tmp_path / "nope"), MB, MB)
    assert not output.finished and output.problems


def test_hostile_fields_are_coerced(out):
    write_tests(out, [{"test": "t.py::a", "points": "NaN", "question": ["x"], "values": "no"}])
    output = read_job_output(str(out), MB, 64 * MB)
    t = output.tests["t.py::a"]
    assert t.points == 0.0 and t.values == ()
