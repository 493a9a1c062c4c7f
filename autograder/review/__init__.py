"""Review tools beside the pipeline: they never change a grade.

:mod:`.validate` is the student's check before handing in (it runs the notebook through
:mod:`autograder.run.jobs`; :mod:`.validate_report` is its report and
:mod:`.notebook_questions` reads the questions from nbgrader's metadata), :mod:`.similarity` pairs
submissions that look alike, and :mod:`.audit` grades mutants of the reference to measure
how much each hidden grader catches.
"""
