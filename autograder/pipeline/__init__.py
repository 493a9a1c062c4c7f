"""The pipeline that ties the stages together.

:mod:`.submission` grades one submission: load, run, judge. :mod:`.batch` grades a whole
assignment: the answer key and the variants once, submissions in parallel, results into the
gradebook (stage 4, the top-level ``gradebook`` package).
"""
