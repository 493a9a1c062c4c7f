"""Code that runs *inside* the sandbox: execute a notebook's cells, then the hidden grader.

This package is mounted read-only into the sandbox as ``gradetape_runtime`` and must only
use relative imports and the standard library, numpy, IPython and pytest. Nothing in it is
trusted by the grading side: it records values, and the trusted side decides. What crosses
the boundary (``in/job.json``, the file names, the records of ``out/``) is defined once, in
:mod:`.protocol`.
"""
