"""The command line never surprises: bad input is one line, exit 2, fast; start-up is light.

Each bad input runs ``gradetape`` in a fresh interpreter (as a user would), which must exit
2 with exactly one ``gradetape: error:`` line naming the problem and the fix, no traceback,
without having imported anything heavy (the check ran before any slow work).
"""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from autograder.cli.preflight import UsageError, check_notebook
from autograder.pipeline.submission import Rejected, Submission

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorflow", "keras", "sklearn", "dask", "distributed", "pandas", "jupyter_server", "nbconvert")
#: Runs ``main`` in a fresh interpreter and prints which heavy modules it imported.
RUNNER = """
import json, sys
from autograder.cli.main import main
try:
    status = main(sys.argv[1:])
finally:
    heavy = [m for m in json.loads({heavy!r}) if m in sys.modules]
    print("HEAVY=" + json.dumps(heavy))
sys.exit(status)
"""
#: A bad input must be refused within this many seconds (generous: CI machines are shared).
FAST_S = 20.0


def run_cli(args, cwd=None, env=None):
    """Run ``gradetape ARGS``; return (exit status, stdout, stderr, heavy modules, seconds)."""
    code = RUNNER.format(heavy=json.dumps(HEAVY))
    environ = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    environ.pop("GRADETAPE_DB", None)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd or ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)
    took = time.monotonic() - start
    out, _, heavy = proc.stdout.rpartition("HEAVY=")
    return proc.returncode, out, proc.stderr, json.loads(heavy or "[]"), took


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A minimal course root: two exercises with graders, a submissions folder, a gradebook."""
    root = tmp_path_factory.mktemp("course")
    for name in ("01_tensors", "02_tensor_ops"):
        (root / "autograder" / "graders" / name).mkdir(parents=True)
        (root / "autograder" / "graders" / name / "grader.toml").write_text("")
        (root / "solutions" / name).mkdir(parents=True)
    (root / "submitted" / "ada" / "02_tensor_ops").mkdir(parents=True)
    (root / "empty").mkdir()
    with sqlite3.connect(root / "gradebook.db") as db:
        db.execute("CREATE TABLE assignment (id TEXT, name TEXT)")
        db.execute("INSERT INTO assignment VALUES ('a1', '01_tensors')")
    (root / "notes.txt").write_text("not a notebook")
    return root


@pytest.fixture(scope="module")
def toml_course(tmp_path_factory, course):
    """Make a course copy whose gradetape.toml holds ``text``."""

    def make(text):
        root = tmp_path_factory.mktemp("tomlcourse")
        (root / "autograder" / "graders" / "01_tensors").mkdir(parents=True)
        (root / "autograder" / "graders" / "01_tensors" / "grader.toml").write_text("")
        (root / "gradetape.toml").write_text(text)
        return root

    return make


# (id, arguments after --root COURSE, what the one line must say)
BAD_INPUT = [
    ("submitted-missing", ["grade", "01_tensors", "--submitted", "{root}/nope"],
     ["--submitted", "nope does not exist", "<student>/<assignment>/*.ipynb"]),
    ("submitted-empty", ["grade", "01_tensors", "--submitted", "{root}/empty"],
     ["no submissions of 01_tensors", "expected", "/<student>/01_tensors/*.ipynb"]),
    ("submitted-other-assignment", ["grade", "01_tensors", "--submitted", "{root}/submitted"],
     ["no submissions of 01_tensors", "assignments found: 02_tensor_ops"]),
    ("assignment-misspelled", ["grade", "01_tensor", "--submitted", "{root}/submitted"],
     ["no exercise '01_tensor'", "did you mean '01_tensors'?"]),
    ("release-misspelled", ["release", "02_tensorops"],
     ["no exercise '02_tensorops'", "did you mean '02_tensor_ops'?"]),
    ("root-not-a-course", ["--root", "{root}/empty", "grade", "01_tensors"],
     ["is not a GradeTape course", "--root COURSE"]),
    ("root-missing", ["--root", "{root}/nowhere", "report"],
     ["does not exist", "--root COURSE"]),
    ("db-not-a-url", ["export", "--db", "gradebook"],
     ["--db 'gradebook' is not a database URL", "sqlite:///gradebook.db"]),
    ("db-unknown-kind", ["export", "--db", "postgres://u@localhost/gb"],
     ["unknown database kind 'postgres'", "did you mean 'postgresql'?"]),
    ("db-unreachable", ["grade", "02_tensor_ops", "--db", "postgresql://u:hunter2@127.0.0.1:1/gb"],
     ["cannot reach the database postgresql://u:***@127.0.0.1:1/gb", "server is running"]),
    ("db-missing-sqlite-export", ["export", "--db", "sqlite:///{root}/nope.db"],
     ["no gradebook at", "nope.db", "gradetape grade ASSIGNMENT"]),
    ("db-folder-missing-grade", ["grade", "02_tensor_ops", "--db", "sqlite:///{root}/no/dir/gb.db"],
     ["the folder", "no/dir", "does not exist", "mkdir -p"]),
    ("db-not-sqlite", ["report", "--db", "sqlite:///{root}/notes.txt"],
     ["is not a SQLite database", "--db"]),
    ("export-output-folder-missing", ["export", "-o", "{root}/out/grades.csv"],
     ["the folder", "/out for --output does not exist", "mkdir -p"]),
    ("export-parquet-needs-output", ["export", "--format", "parquet"],
     ["--format parquet needs --output DIRECTORY"]),
    ("export-gradescope-needs-assignment", ["export", "--format", "gradescope", "-o", "{root}/gs"],
     ["--format gradescope needs --assignment NAME"]),
    ("export-gradescope-misspelled", ["export", "--format", "gradescope", "--assignment", "01_tensor",
                                      "-o", "{root}/gs"],
     ["no assignment '01_tensor' in the gradebook", "did you mean '01_tensors'?"]),
    ("export-assignment-wrong-format", ["export", "--assignment", "01_tensors"],
     ["--assignment is only for --format gradescope"]),
    ("report-misspelled", ["report", "01_tensor", "-o", "{root}/report.html"],
     ["no assignment '01_tensor' in the gradebook", "did you mean '01_tensors'?",
      "gradetape grade 01_tensor"]),
    ("report-output-folder-missing", ["report", "-o", "{root}/no/report.html"],
     ["/no for --output does not exist", "mkdir -p"]),
    ("bundle-misspelled", ["gradescope-bundle", "01_tensrs"],
     ["no exercise '01_tensrs'", "did you mean '01_tensors'?"]),
    ("validate-not-a-notebook", ["validate", "{root}/notes.txt"],
     ["notes.txt is not a notebook", "ending in .ipynb"]),
    ("validate-missing", ["validate", "{root}/01_tensors.ipynb"],
     ["no notebook", "01_tensors.ipynb", "check the path"]),
    ("scheduler-not-an-address", ["grade", "02_tensor_ops", "--scheduler", "scheduler"],
     ["is not a Dask scheduler address", "tcp://scheduler:8786"]),
    ("scheduler-unreachable", ["grade", "02_tensor_ops", "--scheduler", "tcp://127.0.0.1:1"],
     ["cannot reach the Dask scheduler at 127.0.0.1:1", "--scheduler"]),
]


@pytest.mark.parametrize("args, says", [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_one_line_exit_two_and_fast(course, args, says):
    args = [a.format(root=course) for a in args]
    if args[0] != "--root":
        args = ["--root", str(course), *args]
    status, out, err, heavy, took = run_cli(args, cwd=course)
    assert status == 2, (out, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradetape: error: "), err
    for text in says:
        assert text in lines[0], (text, lines[0])
    assert "hunter2" not in err  # a password is never printed
    assert heavy == [], f"imported {heavy} before refusing the input"
    assert took < FAST_S


TOML_CASES = [
    ("top-level-misspelled", "wram = false\n", ["the top level", "'wram'", "did you mean 'warm'?"]),
    ("table-misspelled", "[limit]\ncell_timeout = 5\n", ["'limit'", "did you mean 'limits'?"]),
    ("limits-key", "[limits]\ncell_timout = 5\n", ["[limits]", "'cell_timout'", "did you mean 'cell_timeout'?"]),
    ("similarity-key", "[similarity]\ntreshold = 0.5\n", ["[similarity]", "did you mean 'threshold'?"]),
    ("grading-key", "[grading]\nlate_penalty_per_dya = 0.1\n",
     ["[grading]", "did you mean 'late_penalty_per_day'?"]),
    ("heldout-key", '[heldout]\ndigit = "private/x.npz"\n', ["[heldout]", "did you mean 'digits'?"]),
    ("warm-type", 'warm = "no"\n', ["warm must be true or false"]),
    ("isolation-value", 'isolation = "docker"\n', ["isolation = 'docker'", "auto, bwrap, subprocess"]),
    ("limits-value", "[limits]\nmemory_mb = -5\n", ["[limits] memory_mb must be a positive number"]),
    ("not-toml", "warm = \n", ["not valid TOML", "line 1"]),
]


@pytest.mark.parametrize("text, says", [c[1:] for c in TOML_CASES], ids=[c[0] for c in TOML_CASES])
def test_bad_gradetape_toml_is_one_line_exit_two(toml_course, text, says):
    root = toml_course(text)
    status, out, err, heavy, took = run_cli(["--root", str(root), "grade", "01_tensors"], cwd=root)
    assert status == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "gradetape.toml" in lines[0] and "Traceback" not in err, err
    for part in says:
        assert part in lines[0], (part, lines[0])
    assert heavy == []
    assert took < FAST_S


def test_help_and_export_import_nothing_heavy(course):
    for args in (["--help"], ["grade", "--help"], ["--version"]):
        status, out, err, heavy, _ = run_cli(args)
        assert status == 0 and heavy == [], (args, heavy, err)
    # export needs pandas and nbgrader's database layer, never TensorFlow or a Jupyter server
    status, out, err, heavy, _ = run_cli(["--root", str(course), "export", "--db", f"sqlite:///{course}/gb2.db"])
    assert status == 2  # no such gradebook: refused before importing anything
    assert heavy == []


def test_export_skips_the_jupyter_server(tmp_path):
    """A real export imports pandas and nbgrader.api, not tensorflow or nbgrader's server parts."""
    from gradebook.connect import open_gradebook

    db = f"sqlite:///{tmp_path / 'gb.db'}"
    with open_gradebook(db):
        pass
    status, out, err, heavy, _ = run_cli(["--root", str(tmp_path), "export", "--db", db])
    assert status == 0, err
    assert out.startswith("student,assignment")
    assert set(heavy) <= {"pandas"}, heavy


def test_every_option_has_help_and_every_command_examples():
    from autograder.cli.main import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name, sub in subparsers.choices.items():
        assert "examples:" in (sub.epilog or ""), name
        assert f"gradetape {name}" in sub.epilog, name
        for action in sub._actions:
            assert action.help, (name, action.dest)
    for action in parser._actions:
        assert action.help, action.dest


def test_version():
    status, out, _, _, _ = run_cli(["--version"])
    assert status == 0 and out.startswith("gradetape 0.")


def test_notebook_suffix_any_case(tmp_path):
    upper = tmp_path / "01_Tensors.IPYNB"
    upper.write_text("{}")
    assert check_notebook(upper) == upper
    with pytest.raises(UsageError, match="ending in .ipynb"):
        check_notebook(tmp_path / "01_tensors.ipynb.txt")


def test_submission_named_ipynb_in_upper_case_is_graded(tmp_path):
    folder = tmp_path / "ada" / "01_tensors"
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), folder / "01_Tensors.IPYNB")
    exercise = SimpleNamespace(notebook="01_tensors.ipynb")
    path, notice = Submission("ada", folder).notebook_path(exercise)
    assert path.name == "01_Tensors.IPYNB" and "01_tensors.ipynb" in notice
    (folder / "01_Tensors.IPYNB").rename(folder / "answers.txt")
    with pytest.raises(Rejected, match=r"found: answers.txt\); submit the notebook as 01_tensors.ipynb"):
        Submission("ada", folder).notebook_path(exercise)


# --- scripts/bootstrap, sourced from an interactive shell -------------------------------


def fake_venv(folder: Path, works: bool = True) -> Path:
    """A venv folder bootstrap accepts as installed (its stamp matches): no pip runs."""
    (folder / "bin").mkdir(parents=True)
    python = folder / "bin" / "python"
    if works:
        python.symlink_to(sys.executable)
    else:
        python.write_text("#!/bin/sh\nexit 1\n")
        python.chmod(0o755)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + (ROOT / "requirements.lock").read_bytes())
    (folder / ".gradetape-installed").write_text(want.hexdigest()[:16] + "\n")
    return folder


def bash(script: str, cwd: Path, venv: Path, interactive: bool = True):
    flags = ["--norc", "--noprofile", "-i"] if interactive else []
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "BASH_ENV", "ENV")}
    env["VENV"] = str(venv)
    # bootstrap installs bubblewrap with apt when it is missing: a stand-in keeps apt out
    shim = venv.parent / "shim"
    if not shim.exists():
        shim.mkdir()
        (shim / "bwrap").write_text("#!/bin/sh\nexit 0\n")
        (shim / "bwrap").chmod(0o755)
    env["PATH"] = f"{shim}:{env['PATH']}"
    return subprocess.run(["bash", *flags, "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


REPORT = 'echo "rc=$? pwd=$PWD opts=$- pipefail=$(shopt -qo pipefail && echo on || echo off) path=$PATH"'


def test_sourcing_bootstrap_leaves_the_shell_as_it_was(tmp_path):
    venv = fake_venv(tmp_path / "venv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = bash(f'echo "opts=$-"; source {ROOT}/scripts/bootstrap; {REPORT}; echo still-here',
                elsewhere, venv)
    before = proc.stdout.splitlines()[0]
    after = proc.stdout.splitlines()[1]
    assert "rc=0" in after and f"pwd={elsewhere} " in after, proc.stdout
    assert after.split("opts=")[1].split()[0] == before.split("opts=")[1], proc.stdout
    assert "i" in before.split("opts=")[1]  # it really was an interactive shell
    assert "e" not in after.split("opts=")[1].split()[0] and "pipefail=off" in after
    assert f"path={venv}/bin:" in after
    assert proc.stdout.rstrip().endswith("still-here")


def test_sourcing_bootstrap_that_fails_returns_instead_of_exiting(tmp_path):
    venv = fake_venv(tmp_path / "venv", works=False)
    proc = bash(f"source {ROOT}/scripts/bootstrap; {REPORT}; echo still-here", tmp_path, venv)
    assert "rc=1" in proc.stdout and f"pwd={tmp_path} " in proc.stdout, proc
    assert proc.stdout.rstrip().endswith("still-here")
    assert "bootstrap: " in proc.stderr and "does not run" in proc.stderr
    assert f"{venv}/bin" not in proc.stdout.split("path=")[1]


def test_bootstrap_executed_and_sourced_by_a_strict_script(tmp_path):
    venv = fake_venv(tmp_path / "venv")
    ran = bash(f"{ROOT}/scripts/bootstrap", tmp_path, venv, interactive=False)
    assert ran.returncode == 0, ran.stderr
    strict = bash(f"set -euo pipefail; cd {ROOT}; source scripts/bootstrap; {REPORT}; command -v python",
                  tmp_path, venv, interactive=False)
    assert strict.returncode == 0, strict.stderr
    assert "pipefail=on" in strict.stdout and f"pwd={ROOT} " in strict.stdout
    assert "e" in strict.stdout.split("opts=")[1].split()[0]
    assert strict.stdout.strip().endswith(f"{venv}/bin/python")
    broken = fake_venv(tmp_path / "broken", works=False)
    failed = bash(f"set -euo pipefail; source {ROOT}/scripts/bootstrap; echo not-reached",
                  tmp_path, broken, interactive=False)
    assert failed.returncode == 1 and "not-reached" not in failed.stdout
