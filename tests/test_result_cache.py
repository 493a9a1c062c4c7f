"""The result cache's code digest covers every trusted module that shapes a result."""

from pathlib import Path

from autograder.run import result_cache
from autograder.run.result_cache import trusted_code_files

PACKAGE = Path(result_cache.__file__).resolve().parents[1]


def _names() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in trusted_code_files()}


def test_modules_that_shape_results_and_messages_are_covered():
    names = _names()
    # The four the hand-written list used to miss, and the ones it had.
    for module in ("judge/misconceptions.py", "run/jobs.py", "judge/answer_key.py", "results.py",
                   "judge/compare.py", "pipeline/submission.py", "load/notebook.py",
                   "judge/static.py", "run/job_output.py", "load/readers.py"):
        assert module in names, module


def test_tools_that_do_not_grade_are_left_out():
    names = _names()
    assert not any(n.startswith("cli/") for n in names)
    assert "review/validate.py" not in names
    assert not any(n.startswith("graders/") for n in names)


def test_a_new_import_is_followed_without_editing_a_list(tmp_path):
    pkg = tmp_path / "autograder"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "pipeline").mkdir()
    (pkg / "pipeline" / "__init__.py").write_text("")
    (pkg / "pipeline" / "submission.py").write_text(
        "from ..a import x\n\ndef f():\n    from ..sub import b\n"
    )
    (pkg / "a.py").write_text("import autograder.c\nx = 1\n")
    (pkg / "c.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..d import y\n")
    (pkg / "d.py").write_text("y = 2\n")
    (pkg / "unused.py").write_text("")
    found = {p.relative_to(pkg).as_posix() for p in trusted_code_files(pkg)}
    assert found == {"__init__.py", "pipeline/__init__.py", "pipeline/submission.py", "a.py", "c.py", "sub/__init__.py",
                     "sub/b.py", "d.py"}
