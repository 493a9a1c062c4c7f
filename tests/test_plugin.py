"""The grader plugin's own checks: a genuine tensor is told from an object that claims to be one."""

import pytest

from autograder.judge.compare import Tolerance, compare_value
from autograder.run.job_output import read_job_output
from autograder.run.sandbox import SubprocessSandbox
from autograder.settings import Limits

MB = 1 << 20

FAKE = '''
import numpy as np
import tensorflow as tf

class EagerTensor:
    """Reports itself as a tensor every way it can without patching anything."""
    __module__ = "tensorflow.python.framework.ops"
    __class__ = property(lambda self: tf.Tensor)
    dtype = tf.float32
    shape = (1,)
    def numpy(self):
        return np.array([1.0], np.float32)

fake = EagerTensor()
'''

GRADER = '''
import tensorflow as tf

def test_fake(student, expect):
    assert isinstance(student.fake, tf.Tensor)  # isinstance is fooled, the recorded check is not
    expect("x", student.fake, tensor=True)

def test_real(expect):
    expect("x", tf.constant([1.0]), tensor=True)

def test_check_type_is_a_grader_error(expect):
    expect("x", 1, check_type=True)
'''


@pytest.mark.slow
def test_a_faked_tensor_is_recorded_as_not_a_tensor(make_job):
    job = make_job([FAKE], GRADER, tensorflow=True)
    SubprocessSandbox().run(job, Limits(job_timeout=120))
    tests = read_job_output(str(job / "out"), MB, MB).tests
    fake, real = tests["test_g.py::test_fake"].values[0].value, tests["test_g.py::test_real"].values[0].value
    assert fake.kind == "tf.Tensor" and not fake.tensor  # the tag believes it, the check does not
    assert real.kind == "tf.Tensor" and real.tensor
    verdict = compare_value("x", fake, real, Tolerance(tensor=True))
    assert not verdict.ok and "claims" in verdict.message
    assert compare_value("x", real, real, Tolerance(tensor=True)).ok
    broken = tests["test_g.py::test_check_type_is_a_grader_error"]
    assert broken.outcome == "failed" and "check_type=...) is gone (grader error)" in broken.message
