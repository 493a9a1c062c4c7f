"""Mutation audit of the graders: which plausible mistakes would still get full marks.

``operators`` (libcst rewrites) and ``generate`` (mutants, ids, sampling) and ``judge``
(scoring a run) are pure; ``run`` grades mutants in the sandbox; ``report`` summarises.
"""
