"""Review tools beside the pipeline: they never change a grade.

:mod:`.validate` is the student's check before handing in, :mod:`.similarity` pairs
submissions that look alike, and :mod:`.audit` grades mutants of the reference to measure
how much each hidden grader catches.
"""
