"""Entry point inside the sandbox: ``python -m gradetape_runtime JOB_DIR``.

``JOB_DIR/in/job.json`` describes the job (a :class:`~.protocol.JobSpec`);
``JOB_DIR/in/grader/`` holds the hidden tests; everything produced goes to ``JOB_DIR/out/``
(see :mod:`.protocol` for the layout and the records). The process ends with ``os._exit`` so that
nothing a notebook registered (atexit hooks, threads) can delay or change the outcome.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

from .protocol import (
    DATA_DIR,
    GRADER_DIR,
    HANDOVER_DIR,
    IN_DIR,
    JOB_FILE,
    OUT_DIR,
    RUNTIME_ERROR_FILE,
    JobSpec,
    Phase,
    Ready,
)


def _quiet_fds() -> None:
    """Send file descriptors 1 and 2 to /dev/null: printed output never decides a score."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def main(job_dir: str) -> int:
    """Run one job; returns the exit status (0 when the runtime itself worked)."""
    out_dir = os.path.join(job_dir, OUT_DIR)
    in_dir = os.path.join(job_dir, IN_DIR)
    with open(os.path.join(in_dir, JOB_FILE), encoding="utf-8") as fh:
        job = JobSpec.from_json(fh.read())
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    # Installed pytest plugins (xdist, anyio, ...) cost seconds to load and have no place
    # in a grader run.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.setdefault("IPYTHONDIR", tempfile.mkdtemp(prefix="ipython-"))
    os.environ.setdefault("MPLBACKEND", "Agg")

    from .channel import Channel
    from .execute import run_cells
    from .plugin import GraderPlugin

    channel = Channel(out_dir, job.max_value_bytes)
    # Only derived seeds reach a job (the course seed stays on the trusted side).
    seed = job.notebook_seed & 0x7FFFFFFF
    if job.tensorflow:
        import keras
        import tensorflow as tf
    # The real tensor type, taken before any student code runs: ``expect(..., tensor=True)``
    # compares ``type(value)`` with it (a student class cannot pass for it; ``isinstance``
    # and ``__module__`` can be faked).
    tensor_types: tuple[type, ...] = ()
    if job.tensorflow:
        tensor_types = (type(tf.constant(0.0)),)
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    devices: list[str] = []
    tf32 = False
    if job.tensorflow:
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:  # CPU and GPU runners must agree within the graders' tolerances
            tf.config.experimental.enable_tensor_float_32_execution(False)
        devices = [d.name for d in tf.config.list_physical_devices()]
        tf32 = bool(tf.config.experimental.tensor_float_32_execution_enabled())
    channel.send(Ready(tuple(devices), tf32))
    # Take what the grader needs before any student code runs, so patching pytest.main
    # or the plugin module from a cell cannot stop the hidden tests.
    import pytest

    pytest_main = pytest.main
    namespace = run_cells(job.cells, channel, job.cell_timeout, job.output_limit)
    channel.send(Phase("grading"))
    plugin = GraderPlugin(
        namespace,
        job.test_seeds,
        channel,
        job.test_timeout,
        data_dir=os.path.join(in_dir, DATA_DIR),
        handover_out=os.path.join(out_dir, HANDOVER_DIR),
        handover_in=os.path.join(in_dir, HANDOVER_DIR),
        fresh=job.fresh,
        tensor_types=tensor_types,
    )
    grader_dir = os.path.join(in_dir, GRADER_DIR)
    selected = list(job.select or ())
    targets = [os.path.join(grader_dir, t) for t in selected if "/" not in t] or [grader_dir]
    args = [
        *targets,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:stepwise",
        "--rootdir",
        grader_dir,
        "-o",
        "python_files=test_*.py",
        "-o",
        "addopts=",
        "--import-mode=importlib",
        "--confcutdir",
        grader_dir,
        "-s",
    ]
    pytest_main(args, plugins=[plugin])
    channel.send(Phase("done"))
    return 0


def record_failure(job_dir: str) -> None:
    """Write the current exception's traceback for the trusted side (never to students)."""
    try:
        with open(os.path.join(job_dir, OUT_DIR, RUNTIME_ERROR_FILE), "w") as fh:
            fh.write(traceback.format_exc()[-5000:])
    except OSError:
        pass


if __name__ == "__main__":
    job_dir = sys.argv[1]
    status = 1
    try:
        if "--keep-fds" not in sys.argv:
            _quiet_fds()
        status = main(job_dir)
    except BaseException:  # noqa: BLE001 - report any runtime failure to the trusted side
        record_failure(job_dir)
    os._exit(status)
