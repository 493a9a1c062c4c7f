import json

import pytest

from autograder.load.readers import (
    ReaderLimits,
    Unreadable,
    check_array_header,
    error_line,
    json_depth,
    loads,
    safe_tag,
    short_error,
)


def test_json_depth_ignores_brackets_inside_strings():
    assert json_depth('{"a": ["[[[[", {"b": "}}}"}]}') == 3
    assert json_depth('"\\"[[["') == 0
    assert json_depth("1") == 0


def test_json_depth_of_very_deep_input_without_recursion():
    assert json_depth("[" * 100_000 + "]" * 100_000) == 100_000


def test_loads_refuses_deep_nesting_before_parsing():
    with pytest.raises(Unreadable, match="nested 100000 levels"):
        loads("[" * 100_000 + "]" * 100_000, max_depth=64)


def test_loads_refuses_huge_integer():
    with pytest.raises(Unreadable, match="more than 100 digits"):
        loads('{"points": 1' + "0" * 100_000 + "}", 64, max_int_digits=100)


def test_loads_turns_non_finite_numbers_into_none():
    assert loads('{"a": NaN, "b": -Infinity, "c": 1e999, "d": 1.5}', 64, 100) == {
        "a": None, "b": None, "c": None, "d": 1.5}


def test_loads_malformed_is_unreadable():
    with pytest.raises(Unreadable, match="not valid JSON"):
        loads('{"a": ', 64)


def test_short_error_keeps_first_line_printable_and_short():
    text = "ValueError: seed is\x00 12345\nsecond line with the grader's source\n" + "x" * 5000
    out = short_error(text)
    assert out == "ValueError: seed is 12345"
    assert len(short_error("E: " + "y" * 5000)) == 200
    assert "\u202e" not in short_error("E: \u202eevil")


def test_error_line_skips_frames_and_tensorflow_header():
    msg = ('TypeError: in user code:\n\n    File "/job/in/grader/test_x.py", line 8, in f  *\n'
           "    TypeError: bad input")
    assert error_line(msg) == "TypeError: bad input"
    assert error_line("KeyError: 'a'\nTraceback (most recent call last):\nsecret") == "KeyError: 'a'"


def test_safe_tag():
    assert safe_tag("tf.Tensor") == "tf.Tensor"
    assert safe_tag("<script>" + "a" * 100) == "script" + "a" * 34
    assert safe_tag("") == "?"


@pytest.mark.parametrize(
    ("shape", "phrase"),
    [
        ((2**62, 2**62), "elements"),  # np.prod would overflow to a small or negative number
        ((2**31,) * 4, "elements"),
        ((1,) * 33, "rank"),
        ((-1, 3), "malformed"),
        ([3], "malformed"),
        ((1000, 1000), "bytes"),
    ],
)
def test_array_header_limits(shape, phrase):
    with pytest.raises(Unreadable, match=phrase):
        check_array_header(shape, 8, 1 << 20)


def test_array_header_accepts_reasonable_shape():
    assert check_array_header((3, 4), 8, 1 << 20) == 96
    assert check_array_header((), 4, 1 << 20) == 4


def test_limits_are_one_typed_object():
    limits = ReaderLimits(json_depth=3)
    with pytest.raises(Unreadable):
        loads(json.dumps([[[[1]]]]), limits.json_depth)
