import json
import os
import pickle

import numpy as np
import pytest

from autograder.run.job_output import read_job_output
from autograder.runtime.channel import Channel

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
    write_tests(out, [record("x", enc.to_record())])
    _, v = value_of(out)
    assert v.array.dtype == np.float32 and v.array.shape == (2, 3)


def test_scalar_keeps_zero_dimensions(out):
    enc = Channel(str(out), MB).encode(1)
    write_tests(out, [record("x", enc.to_record())])
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
    assert "too large" in enc.error and enc.file is None


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


def test_records_of_the_wrong_shape_are_rejected_by_the_protocol(out):
    write_tests(out, [
        {"test": "t.py::a", "points": "NaN"},
        {"test": "t.py::b", "question": ["x"]},
        {"test": "t.py::c", "values": "no"},
        {"test": "t.py::d", "values": [{"name": "v", "file": 7}]},
        {"test": "t.py::e", "gpu": "yes"},
        record("x", {"kind": "str", "str": "ok"}),
    ])
    (out / "cells.jsonl").write_text('{"event": "end", "index": "0", "ok": true}\n'
                                     '{"event": "start", "index": -1}\n{"event": "boom"}\n'
                                     '{"event": "ready", "devices": "cpu"}\n{"event": "done"}\n')
    output = read_job_output(str(out), MB, 64 * MB)
    assert list(output.tests) == ["t.py::a"] and output.tests["t.py::a"].question == "q"
    assert output.cells == [] and output.started_cells == [] and output.events == ["done"]
    assert any("tests.jsonl: line 1 ignored ('points' is str" in p for p in output.problems)
    assert any("'values' is str, not list" in p for p in output.problems)
    assert any("'file' is int, not str" in p for p in output.problems)
    assert any("cells.jsonl: line 3 ignored (unknown event 'boom')" in p for p in output.problems)
    assert len(output.problems) == 9


# --- hostile output: every reader limit (issue 12, item 3) ---

from autograder.run.job_output import read_job_dir  # noqa: E402


def npy_with_header(path, shape, descr="<f8", payload=b""):
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(payload)


def test_huge_integer_line_is_ignored(out):
    line = '{"test": "t.py::a", "points": 1' + "0" * 100_000 + ', "values": []}'
    (out / "tests.jsonl").write_text(line + "\n" + json.dumps(record("x", {"kind": "str", "str": "ok"})) + "\n")
    output = read_job_output(str(out), MB, 64 * MB)
    assert output.tests["t.py::a"].points == 1.0  # the honest line after it is read
    assert any("digits" in p for p in output.problems)


def test_deeply_nested_line_is_ignored(out):
    (out / "tests.jsonl").write_text("[" * 200_000 + "]" * 200_000 + "\n")
    output = read_job_output(str(out), MB, 64 * MB)
    assert output.tests == {} and any("nested" in p for p in output.problems)


def test_nan_points_and_tolerances_become_defaults(out):
    (out / "tests.jsonl").write_text('{"test": "t.py::a", "points": NaN, "timeout": Infinity, '
                                     '"values": [{"name": "x", "tol": {"rtol": NaN}, "str": "a"}]}\n')
    t = read_job_output(str(out), MB, 64 * MB).tests["t.py::a"]
    assert t.points == 0.0 and t.timeout == 0.0 and t.values[0].tolerance == {"rtol": None}


def test_overlong_line_is_ignored(out):
    big = record("x", {"kind": "str", "str": "y" * (2 << 20)})
    (out / "tests.jsonl").write_text(json.dumps(big) + "\n")
    output = read_job_output(str(out), MB, 64 * MB)
    assert output.tests == {} and any("bytes" in p for p in output.problems)


def test_too_many_records(out):
    (out / "cells.jsonl").write_text('{"event": "start", "index": 1}\n' * 6000)
    output = read_job_output(str(out), MB, 64 * MB)
    assert len(output.started_cells) == 5000 and any("records" in p for p in output.problems)


@pytest.mark.parametrize(
    ("shape", "phrase"),
    [((2**62, 2**62), "elements"), ((1,) * 33, "rank"), ((10,), "size does not match")],
)
def test_impossible_npy_headers_are_refused_before_allocation(out, shape, phrase):
    npy_with_header(out / "values" / "v00001.npy", shape, payload=b"\0" * 16)
    write_tests(out, [record("x", {"kind": "ndarray", "file": "v00001.npy"})])
    _, v = value_of(out, max_value=1 << 40)
    assert v.array is None and phrase in v.error


def test_structured_and_subarray_dtypes_refused(out):
    npy_with_header(out / "values" / "v00001.npy", (1,), descr=[("a", "<f8")], payload=b"\0" * 8)
    write_tests(out, [record("x", {"kind": "ndarray", "file": "v00001.npy"})])
    _, v = value_of(out)
    assert v.array is None and "not allowed" in v.error


def test_cell_and_test_errors_are_one_short_line(out):
    long = "RuntimeError: seed=20261123\n" + "def hidden_grader_source(): ...\n" * 200
    (out / "cells.jsonl").write_text(json.dumps({"event": "end", "index": 0, "ok": False, "error": long}) + "\n")
    rec = record("x", {"kind": "str", "str": "ok"})
    rec["message"] = "ValueError: " + "z" * 5000 + "\nsecond"
    rec["values"][0].update({"error": "boom\nsecret line", "kind": "<b>" * 50})
    write_tests(out, [rec])
    output = read_job_output(str(out), MB, 64 * MB)
    assert output.cells[0].error == "RuntimeError: seed=20261123"
    t = output.tests["t.py::a"]
    assert len(t.message) <= 200 and "second" not in t.message
    assert t.values[0].value.error == "boom" and "<" not in t.values[0].value.kind


def honest_out(folder):
    (folder / "values").mkdir(parents=True)
    (folder / "cells.jsonl").write_text('{"event": "ready"}\n{"event": "done"}\n')
    write_tests(folder, [record("x", {"kind": "str", "str": "ok"})])


def test_read_job_dir_reads_its_own_out(tmp_path):
    job = tmp_path / "job"
    honest_out(job / "out")
    output = read_job_dir(str(job), MB, 64 * MB)
    assert output.finished and "t.py::a" in output.tests


def test_out_swapped_for_symlink_is_not_read(tmp_path):
    job, elsewhere = tmp_path / "job", tmp_path / "elsewhere"
    honest_out(elsewhere)
    job.mkdir()
    os.symlink(elsewhere, job / "out")
    output = read_job_dir(str(job), MB, 64 * MB)
    assert output.tests == {} and not output.finished and output.problems


def test_job_folder_swapped_for_symlink_is_not_read(tmp_path):
    real, job = tmp_path / "real", tmp_path / "job"
    honest_out(real / "out")
    os.symlink(real, job)
    output = read_job_dir(str(job), MB, 64 * MB)
    assert output.tests == {} and any("job folder" in p for p in output.problems)


def test_deleted_out_folder(tmp_path):
    (tmp_path / "job").mkdir()
    output = read_job_dir(str(tmp_path / "job"), MB, 64 * MB)
    assert output.tests == {} and any("no output directory" in p for p in output.problems)


def test_values_folder_swapped_for_symlink_is_not_read(out, tmp_path):
    (out / "values").rmdir()
    other = tmp_path / "other"
    other.mkdir()
    np.save(other / "v00001.npy", np.ones(3))
    os.symlink(other, out / "values")
    write_tests(out, [record("x", {"kind": "ndarray", "file": "v00001.npy"})])
    _, v = value_of(out)
    assert v.array is None
