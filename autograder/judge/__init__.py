"""Stage 3, judge: recorded values compared with the answer key, on the trusted side.

:mod:`.compare` is the pure core (no I/O, no TensorFlow): a value, the key's value and a
tolerance give a verdict. :mod:`.answer_key` runs the reference through the same grader;
:mod:`.static` and :mod:`.dynamic` read the student's source; :mod:`.misconceptions`
names a mistake by matching the known-wrong variants' values.
"""
