import json
import os
from pathlib import Path

import pytest

from autograder.run.seeds import job_seeds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_job(tmp_path):
    """Lay out a job directory: cells + a grader file; no TensorFlow unless asked."""

    count = [0]

    def make(cells, grader="", tensorflow=False, **spec):
        count[0] += 1
        job = tmp_path / f"job{count[0]}"
        (job / "in" / "grader").mkdir(parents=True)
        (job / "out").mkdir()
        grader_file = job / "in" / "grader" / "test_g.py"
        grader_file.write_text(grader or "def test_nothing():\n    pass\n")
        body = {"cell_timeout": 10, "test_timeout": 10, "tensorflow": tensorflow,
                **job_seeds(1, "job", [grader_file]).as_json(),
                "cells": [{"index": i, "cell_id": f"c{i}", "source": s} for i, s in enumerate(cells)]}
        body.update(spec)
        (job / "in" / "job.json").write_text(json.dumps(body))
        return job

    return make
