"""`nbgrader autograde` runs GradeTape's hidden graders: one grading path, one score.

One small class of 01_tensors (the reference, the blank release, a known-wrong variant, a
malformed file and a student who hard-codes the visible self-check's inputs) is graded
twice: with the stock ``nbgrader autograde`` CLI (GradeTape plugged in through
``nbgrader_config.py``) and with ``gradetape grade`` (the parallel batch) into a second
gradebook. The hard-coder hands in late through nbgrader's own exchange (release, submit,
collect), under a ``[grading]`` late policy. Then: every export of both paths agrees with
``nbgrader export`` on every student's total, late penalty included; both paths write the
same autograded notebooks; a manual grade made the way formgrader makes it survives a
regrade on both paths; and the feedback goes out through ``generate_feedback``,
``release_feedback`` and ``fetch_feedback``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbgrader.api import Gradebook

from autograder.cli.main import main
from autograder.load.exercise import load_exercise
from autograder.load.release import nbgrader_env, reference_submission, with_cells, write_submission
from autograder.load.sample_class import build_class
from autograder.settings import load_settings
from gradebook import canvas_table, per_student_table, read_rows, to_parquet, wide_table
from gradebook.policy import late_penalty_points, load_policy

ROOT = Path(__file__).resolve().parent.parent
EX = "01_tensors"
VARIANT = "variant-transpose_without_perm"
HARDCODER = "hardcoder"
COURSE_ID = "gradetape-tf2"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(EX)]

# Passes the visible self-check of Part 1 by looking its inputs up; the hidden test of
# `filled` uses other shapes and values.
HARD_CODED = """def filled(shape, value, dtype):
    table = {
        ((2, 3), 1.5): np.full((2, 3), 1.5),
        ((4,), 7): [7, 7, 7, 7],
        ((2, 1, 3), 0.25): np.full((2, 1, 3), 0.25),
    }
    return tf.constant(table[(tuple(shape), value)], dtype=dtype)
"""
GRADING = "\n[grading]\nlate_penalty_per_day = 0.1\nlate_penalty_cap = 0.5\n"


def nbgrader(cwd: Path, *args: str, fails: str = "") -> str:
    """Run an nbgrader command; fail the test with its output when it fails.

    ``fails``: the command must fail, naming this in its log (nbgrader exits 1 when one
    student's notebook could not be processed, after processing the others).
    """
    env = nbgrader_env()
    env.pop("GRADETAPE_DB", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    if fails:
        assert done.returncode == 1 and fails in done.stderr, done.stderr[-4000:]
    else:
        assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-4000:]}"
    return done.stderr


def course_copy(dest: Path) -> Path:
    """A course root with 01_tensors only, two of its variants, and a late policy."""
    for part in ("solutions", "exercises", "autograder/graders"):
        shutil.copytree(ROOT / part / EX, dest / part / EX)
    variants = sorted((dest / "autograder/graders" / EX / "variants").glob("*.toml"))
    keep = {f"{VARIANT.removeprefix('variant-')}.toml", "fill_ignores_dtype.toml"}
    for path in variants:
        if path.name not in keep:
            path.unlink()
    shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    (dest / "gradetape.toml").write_text((ROOT / "gradetape.toml").read_text() + GRADING)
    return dest


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("nbgrader_autograde")
    root = course_copy(tmp / "course")
    exchange, cache, home = tmp / "exchange", tmp / "cache", tmp / "student"
    xargs = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}"]
    nbgrader(root, "generate_assignment", EX, "--force")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:  # due 36 h ago: 2 days late
        due = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=36)
        gb.update_or_create_assignment(EX, duedate=due)

    settings = load_settings(root)
    exercise = load_exercise(settings, EX)
    expected = build_class(exercise, root / "submitted")
    for student in expected:
        if student.startswith("variant-") and student != VARIANT:
            shutil.rmtree(root / "submitted" / student)
    for student in ("reference", VARIANT):  # handed in on time
        (root / "submitted" / student / EX / "timestamp.txt").write_text(
            f"{due - timedelta(hours=2)} UTC"
        )

    # The hard-coder goes through nbgrader's exchange: release, fetch-like copy, submit, collect.
    exchange.mkdir()
    nbgrader(root, "release_assignment", EX, *xargs)
    nb = with_cells(reference_submission(exercise), {"filled_impl": HARD_CODED})
    write_submission(nb, home / EX, exercise.notebook)
    nbgrader(home, "submit", EX, f"--student={HARDCODER}", f"--Exchange.cache={cache}", *xargs)
    nbgrader(root, "collect", EX, *xargs)

    # The same class and gradebook for the `gradetape grade` path.
    batch = tmp / "batch"
    shutil.copytree(root / "submitted", batch / "submitted")
    shutil.copy(root / "gradebook.db", batch / "gradebook.db")

    # nbgrader cannot read the malformed file: it reports that student and grades the rest
    log = nbgrader(root, "autograde", EX, fails="for student 'malformed'")
    assert "GradeTape: hardcoder scored 14/15" in log
    assert main(["--root", str(root), "grade", EX, "--quiet", "--force",
                 "--submitted", str(batch / "submitted"),
                 "--db", f"sqlite:///{batch / 'gradebook.db'}"]) == 0  # fmt: skip
    return {"root": root, "batch": batch, "exchange": exchange, "cache": cache, "home": home}


def nbgrader_scores(cwd: Path, db: Path) -> pd.DataFrame:
    """``nbgrader export`` of one gradebook, indexed by student."""
    out = cwd / f"nbgrader-{db.stem}.csv"
    nbgrader(cwd, "export", f"--CourseDirectory.db_url=sqlite:///{db}",
             f"--CsvExportPlugin.to={out}")  # fmt: skip
    return pd.read_csv(out).set_index("student_id").sort_index()


def gradetape_totals(root: Path, db: Path) -> dict[str, pd.Series]:
    """Every GradeTape export's per-student total of the assignment."""
    url = f"sqlite:///{db}"
    policy = load_policy(root)
    canvas = canvas_table(read_rows(url), policy=policy, points_possible_row=False)
    parquet = to_parquet(read_rows(url), db.parent / f"parquet-{db.stem}", policy)
    cli_wide, cli_canvas = db.parent / f"wide-{db.stem}.csv", db.parent / f"canvas-{db.stem}.csv"
    for fmt, path in (("wide", cli_wide), ("canvas", cli_canvas)):
        assert (
            main(["--root", str(root), "export", "--db", url, "--format", fmt, "-o", str(path)])
            == 0
        )
    cli_canvas_frame = pd.read_csv(cli_canvas)
    cli_canvas_frame = cli_canvas_frame[
        cli_canvas_frame["Student"].str.strip() != "Points Possible"
    ]
    return {
        "table": per_student_table(read_rows(url), policy).set_index("student")["total"],
        "wide": wide_table(read_rows(url), policy).set_index("student")[EX],
        "wide-cli": pd.read_csv(cli_wide).set_index("student")[EX],
        "canvas": canvas.set_index("SIS Login ID")[EX],
        "canvas-cli": cli_canvas_frame.set_index("SIS Login ID")[EX],
        "parquet": pd.read_parquet(parquet["assignments"]).set_index("student")["score"],
    }


@pytest.mark.parametrize("path", ["root", "batch"])
def test_every_export_agrees_with_nbgrader_export(course: dict[str, Path], path: str) -> None:
    where = course[path]
    theirs = nbgrader_scores(where, where / "gradebook.db")
    assert sorted(theirs.index) == sorted(["blank", "malformed", "reference", VARIANT, HARDCODER])
    for name, ours in gradetape_totals(course["root"], where / "gradebook.db").items():
        ours = ours.astype(float).sort_index()
        assert list(ours.index) == list(theirs.index), name
        assert ours.round(6).tolist() == theirs["score"].round(6).tolist(), name

    score = theirs["score"]
    assert score["reference"] == 15 and score["blank"] == 0 and score["malformed"] == 0
    assert score[VARIANT] == 14  # the variant loses test_channels_first (1 point)
    # The hard-coder passes the visible self-check but not the hidden test of `filled`:
    # nbgrader's own score is GradeTape's, not the self-check's full marks.
    late = theirs.loc[HARDCODER]
    assert late["raw_score"] == 14
    assert late["late_submission_penalty"] == pytest.approx(
        late_penalty_points(load_policy(course["root"]), 2, 14.0, 15.0)
    )
    assert late["late_submission_penalty"] > 0 and late["score"] < 14


def grade_cells(path: Path) -> list[tuple[str, object]]:
    nb = nbformat.read(path, as_version=4)
    return [
        (c.metadata["nbgrader"]["grade_id"], c.outputs)
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    ]


def test_both_paths_write_the_same_autograded_notebooks(course: dict[str, Path]) -> None:
    ours = {
        p.parent.parent.name: p for p in (course["batch"] / "autograded").glob(f"*/{EX}/*.ipynb")
    }
    theirs = {
        p.parent.parent.name: p for p in (course["root"] / "autograded").glob(f"*/{EX}/*.ipynb")
    }
    assert sorted(ours) == sorted(theirs) == sorted(["blank", "reference", VARIANT, HARDCODER])
    for student, path in theirs.items():
        a, b = nbformat.read(path, as_version=4), nbformat.read(ours[student], as_version=4)
        assert [(c.source, c.get("outputs")) for c in a.cells] == [
            (c.source, c.get("outputs")) for c in b.cells
        ], student
        assert (ours[student].parent / "timestamp.txt").exists() == (
            path.parent / "timestamp.txt"
        ).exists()


def test_grade_cells_hold_verdicts_not_secrets(course: dict[str, Path]) -> None:
    cells = dict(grade_cells(course["root"] / "autograded" / HARDCODER / EX / f"{EX}.ipynb"))
    creation = cells["creation"]
    text = "".join(o["text"] for o in creation if o["output_type"] == "stream")
    assert "✗ test_filled" in text and "✓ test_arange_matrix" in text
    assert [o["data"]["text/plain"] for o in creation if o["output_type"] == "execute_result"] == [
        "2.0"
    ]
    for outputs in cells.values():
        assert all(o["output_type"] in ("stream", "execute_result") for o in outputs)
        assert "Traceback (most recent call last)" not in str(outputs)
    variant = dict(grade_cells(course["root"] / "autograded" / VARIANT / EX / f"{EX}.ipynb"))
    hint = "".join(o["text"] for o in variant["reshaping"] if o["output_type"] == "stream")
    assert "✗ test_channels_first" in hint and "Hint" in hint  # the misconception's hint


def set_manual_grade(db: Path, student: str) -> None:
    """What formgrader's "save" does: a manual score and comment on the grade's rows."""
    with Gradebook(f"sqlite:///{db}") as gb:
        grade = gb.find_grade("reshaping", EX, EX, student)
        grade.manual_score = 6.0
        comment = gb.find_comment("channels_first_impl", EX, EX, student)
        comment.manual_comment = "Right idea: pass perm=[0, 3, 1, 2]."
        gb.db.commit()


def manual_state(db: Path, student: str) -> tuple[float | None, float | None, str | None, float]:
    with Gradebook(f"sqlite:///{db}") as gb:
        grade = gb.find_grade("reshaping", EX, EX, student)
        comment = gb.find_comment("channels_first_impl", EX, EX, student)
        total = gb.find_submission(EX, student).score
        return grade.manual_score, grade.auto_score, comment.manual_comment, total


def test_manual_grade_survives_a_regrade(course: dict[str, Path]) -> None:
    root, batch = course["root"], course["batch"]
    set_manual_grade(root / "gradebook.db", VARIANT)
    nbgrader(root, "autograde", EX, f"--student={VARIANT}", "--force")
    assert manual_state(root / "gradebook.db", VARIANT) == (
        6.0, 5.0, "Right idea: pass perm=[0, 3, 1, 2].", 15.0,
    )  # fmt: skip
    set_manual_grade(batch / "gradebook.db", VARIANT)
    assert main(["--root", str(root), "grade", EX, "--quiet",
                 "--submitted", str(batch / "submitted"),
                 "--db", f"sqlite:///{batch / 'gradebook.db'}"]) == 0  # fmt: skip
    assert manual_state(batch / "gradebook.db", VARIANT) == manual_state(
        root / "gradebook.db", VARIANT
    )
    theirs = nbgrader_scores(root, root / "gradebook.db")["score"]
    assert theirs[VARIANT] == 15.0
    for name, ours in gradetape_totals(root, root / "gradebook.db").items():
        assert float(ours[VARIANT]) == 15.0, name


def test_feedback_through_release_and_fetch_feedback(course: dict[str, Path]) -> None:
    root = course["root"]
    nbgrader(root, "generate_feedback", EX, "--force")
    page = (root / "feedback" / HARDCODER / EX / f"{EX}.html").read_text()
    assert "test_filled" in page and "Grading summary" in page
    assert "2 started days late" in page and "late penalty 2.8 points" in page
    assert "Traceback (most recent call last)" not in page
    assert release_and_fetch(course) == page


def release_and_fetch(course: dict[str, Path]) -> str:
    """Release the hard-coder's feedback and fetch it as the student; the page fetched.

    Only the hard-coder handed in through the exchange: ``nbgrader release_feedback``
    needs the ``submission_secret.txt`` that ``nbgrader submit`` wrote (the others' folders
    were put in place by hand, as ``build_class`` does, so they have none).
    """
    root, home = course["root"], course["home"]
    xargs = [f"--Exchange.root={course['exchange']}", f"--CourseDirectory.course_id={COURSE_ID}"]
    nbgrader(root, "release_feedback", EX, f"--student={HARDCODER}", *xargs)
    nbgrader(home, "fetch_feedback", EX, f"--student={HARDCODER}",
             f"--Exchange.cache={course['cache']}", *xargs)  # fmt: skip
    fetched = list((home / EX / "feedback").glob(f"*/{EX}.html"))
    assert len(fetched) == 1
    return fetched[0].read_text()


def test_gradetape_feedback_pages_are_releasable(course: dict[str, Path]) -> None:
    batch = course["batch"]
    out = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(out):
        assert main(["--root", str(course["root"]), "report", EX, "-o", str(batch / "r.html"),
                     "--db", f"sqlite:///{batch / 'gradebook.db'}"]) == 0  # fmt: skip
    folder = course["root"] / "feedback" / HARDCODER / EX
    assert (folder / "timestamp.txt").exists() and (folder / "submission_secret.txt").exists()
    page = (folder / f"{EX}.html").read_text()
    assert "2 started days late" in page and "late penalty: 2.8 points" in page
    assert "Score after the penalty: <b>11.2</b>" in page
    assert release_and_fetch(course) == page
