"""Stage 1, load: what is graded and against what.

A submitted notebook is read with limits and rebuilt on the release's skeleton
(:mod:`.notebook`, :mod:`.readers`); an exercise names its grader, variants and
alternatives (:mod:`.exercise`); :mod:`.release` runs nbgrader's release step;
held-out inputs and their labels (:mod:`.heldout`, :mod:`.private_data`) are split so the
labels never reach a sandbox. :mod:`.sample_class` writes a class of known submissions
(the demo's, the conformance battery's).
"""
