"""Grading on a Dask cluster (a LocalCluster here) and GPU routing with a faked GPU resource."""

import json

import pytest
from distributed import Client, LocalCluster

from autograder.run.job_output import read_job_output
from autograder.run.sandbox.base import Needs
from autograder.run.sandbox.dask import DaskSandbox, gpu_workers, unpack_output
from autograder.settings import Limits

MB = 1 << 20


class FakeClient:
    def __init__(self, resources):
        self._info = {"workers": {f"tcp://w{i}": {"resources": r} for i, r in enumerate(resources)}}

    def scheduler_info(self):
        return self._info


def test_gpu_jobs_ask_for_a_gpu_when_one_exists():
    client = FakeClient([{}, {"GPU": 1}])
    assert gpu_workers(client) == ["tcp://w1"]
    assert DaskSandbox(client, needs=Needs(gpu=True)).resources() == {"GPU": 1}
    assert DaskSandbox(client, needs=Needs(gpu=False)).resources() is None


def test_gpu_jobs_fall_back_to_cpu_or_wait():
    client = FakeClient([{}, {}])
    assert DaskSandbox(client, needs=Needs(gpu=True), gpu_fallback="cpu").resources() is None
    assert DaskSandbox(client, needs=Needs(gpu=True), gpu_fallback="wait").resources() == {"GPU": 1}
    with pytest.raises(ValueError, match="gpu_fallback"):
        DaskSandbox(client, gpu_fallback="maybe")


def test_unpack_keeps_only_channel_files(tmp_path):
    unpack_output(
        {"tests.jsonl": b"{}\n", "../../evil": b"x", "values/v00001.npy": b"x", "values/x.py": b"y"},
        tmp_path,
    )
    names = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert names == ["tests.jsonl", "values/v00001.npy"]


@pytest.fixture(scope="module")
def gpu_cluster():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"GPU": 1},
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def test_job_runs_on_a_dask_worker_with_a_gpu_resource(gpu_cluster, make_job):
    job = make_job(["x = 6 * 7"], "import pytest\n@pytest.mark.gpu\ndef test_x(student, expect):\n    expect('x', student.x)\n")
    box = DaskSandbox(gpu_cluster, isolation="auto", needs=Needs(gpu=True), warm=False)
    assert box.resources() == {"GPU": 1}
    run = box.run(job, Limits(job_timeout=60))
    assert run.isolation.startswith("dask:") and not run.timed_out
    assert box.last_worker in gpu_workers(gpu_cluster)
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    test = out.tests["test_g.py::test_x"]
    assert test.gpu and int(test.values[0].value.array) == 42
    assert json.loads((job / "in" / "job.json").read_text())["cells"][0]["source"] == "x = 6 * 7"


def test_gpu_jobs_are_routed_by_declared_needs():
    client = FakeClient([{}, {"GPU": 1}])
    box = DaskSandbox(client, owns_client=True)
    routed = box.routed(Needs(gpu=True))
    assert box.resources() is None and routed.resources() == {"GPU": 1}
    assert routed.client is client and not routed.owns_client  # closing stays with the batch
    assert box.capabilities.gpu and box.capabilities.remote and box.capabilities.workers == 1
