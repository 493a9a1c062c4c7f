"""Stage 2, run: a submission's code and the hidden grader, inside a sandbox.

:mod:`.jobs` writes a job directory through the wire protocol
(:mod:`autograder.runtime.protocol`), runs it in a sandbox (:mod:`.sandbox`, one factory for
every kind) and reads what it recorded back defensively (:mod:`.job_output`).
:mod:`.fresh_process` certifies fresh-process checks with a second job (:mod:`.handover`
copies the files handed over, safely), :mod:`.seeds` derives the seeds a job may see, and
:mod:`.result_cache` skips work already done.
"""
