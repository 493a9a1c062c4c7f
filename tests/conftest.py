import os
from pathlib import Path

import pytest

from autograder.run.jobs import lay_out_job
from autograder.run.seeds import job_seeds
from autograder.runtime.protocol import JobCell, JobSpec

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_job(tmp_path):
    """Lay out a job directory: cells + a grader file; no TensorFlow unless asked."""

    count = [0]

    def make(cells, grader="", tensorflow=False, **spec):
        count[0] += 1
        job = tmp_path / f"job{count[0]}"
        grader_file = tmp_path / f"grader{count[0]}" / "test_g.py"
        grader_file.parent.mkdir()
        grader_file.write_text(grader or "def test_nothing():\n    pass\n")
        seeds = job_seeds(1, "job", [grader_file])
        if spec.get("select") is not None:
            spec["select"] = tuple(spec["select"])
        spec = {"cell_timeout": 10, "test_timeout": 10, **spec}
        body = JobSpec(notebook_seed=seeds.notebook, test_seeds=seeds.tests, tensorflow=tensorflow,
                       cells=tuple(JobCell(i, f"c{i}", s) for i, s in enumerate(cells)), **spec)
        lay_out_job(job, body, [grader_file])
        return job

    return make


@pytest.fixture
def student_dir(tmp_path, monkeypatch):
    """(validate tests) A student's folder, with the working directory somewhere else again."""
    folder = tmp_path / "student" / "homework"
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder
