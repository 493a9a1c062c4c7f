"""The whole course loop, as two people in two JupyterLabs sharing one nbgrader exchange.

An instructor (root, the course owner) and a student each run ``jupyter lab`` from this
environment with their role installed by ``course/setup_course.py`` into their own Jupyter
config directory. The student is a real unix user, ``gt-student`` (created with ``useradd``
and removed afterwards), whenever that user can run this environment's Python; where it
cannot (a pyenv Python under ``/root``, as on the development machines) the student's
JupyterLab runs as root with its own HOME and config, and nbgrader's
``CourseDirectory.student_id`` names the student. The test prints which. Everything lives in one temp folder under ``/tmp`` (pytest's own temp
folders are private to root): the exchange (set up by the same script), the instructor's
course (this course's config, ``gradetape.toml``, 01_tensors and its hidden grader) and the
student's home.

The walk, in headless Chromium (Debian's ``/usr/bin/chromium``, never ``playwright
install``): the instructor releases 01_tensors from formgrader; the student fetches it in
the Assignments panel, writes the reference ``filled`` into its cell, clicks Validate,
submits; the instructor collects and clicks formgrader's Autograde, Generate Feedback and
Release Feedback; the student fetches the feedback, whose page shows the hidden tests'
verdicts. The student's JupyterLab must show no formgrader, course list or create-assignment
tool, the instructor's must have them.

Needs root (``useradd``, a second uid) and Chromium; without either the test skips, except
under CI (``CI=true``) where it fails.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "course"))
import setup_course  # noqa: E402  (course/ is scripts, not a package)

from .browser_support import (  # noqa: E402
    api,
    lab_env,
    launch_chromium,
    start_lab,
    stop_lab,
    unavailable,
)

EXERCISE = "01_tensors"
STUDENT = "gt-student"
TIMEOUT_S = 150  # one step: TensorFlow's import, a sandboxed grading run on a loaded machine
FILLED = "def filled(shape, value, dtype): return tf.fill(shape, tf.constant(value, dtype=dtype))"
# What the student's JupyterLab must not load, and what the instructor's must.
INSTRUCTOR_TOOLS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                    "@jupyter/nbgrader:create-assignment"]

#: What CI must do to run the course walk.
NEED = "the course walk: as root, apt-get install -y chromium"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _unavailable(reason):
    unavailable(reason, NEED)


@dataclass
class Lab:
    """A running JupyterLab of one person."""

    name: str
    base: str
    token: str
    root_dir: Path
    log: Path

    def url(self, path):
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def api(self, path, method="GET"):
        return api(self.base, self.token, path, method, timeout=30)

    def status(self, path):
        """The HTTP status of an authenticated GET."""
        try:
            self.api(path)
            return 200
        except urllib.error.HTTPError as err:
            return err.code


def _lab_env(home, config_dir, user, exchange):
    return lab_env(
        home,
        config_dir,
        USER=user,
        LOGNAME=user,
        PYTHONPATH=str(ROOT),
        GRADETAPE_EXCHANGE=str(exchange),
    )


def _start_lab(name, root_dir, env, log_path, uid=None):
    """Start ``jupyter lab`` in ``root_dir`` (as ``uid`` when given); returns (Lab, process)."""
    base, token, proc = start_lab(name, root_dir, env, log_path, TIMEOUT_S, uid)
    return Lab(name, base, token, root_dir, log_path), proc


@dataclass
class Student:
    """Who the student's JupyterLab runs as: a real unix user, or root with its own HOME."""

    name: str
    uid: int | None  # None: same uid as the instructor, identified by nbgrader config


def _runs_python(uid, gid):
    """Whether ``uid`` can start this environment's Python (a pyenv under /root cannot)."""
    try:
        done = subprocess.run([sys.executable, "-c", "import jupyterlab"], user=uid, group=gid,
                              extra_groups=[], capture_output=True, timeout=60, cwd="/")
    except PermissionError:
        return False
    return done.returncode == 0


@pytest.fixture
def student():
    """The student: a real unix user (created here, removed after) when root and possible."""
    if os.geteuid() != 0:
        _unavailable("the course walk needs root (the student runs as a second unix user)")
    if shutil.which("useradd") is None:
        _unavailable("useradd is missing")
    created = False
    try:
        entry = pwd.getpwnam(STUDENT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        STUDENT], check=True, capture_output=True)
        created = True
        entry = pwd.getpwnam(STUDENT)
    try:
        if _runs_python(entry.pw_uid, entry.pw_gid):
            yield Student(STUDENT, entry.pw_uid)
        else:
            # This Python is unreachable for other users (e.g. a pyenv in /root): the student
            # runs as root with its own HOME and Jupyter config, named by nbgrader config.
            print(f"course walk: {sys.executable} is not executable by {STUDENT}; "
                  "the student runs as root with its own HOME")
            yield Student(STUDENT, None)
    finally:
        if created:
            subprocess.run(["userdel", STUDENT], check=False, capture_output=True)


@pytest.fixture
def walk_dir(tmp_path):
    """A temp folder every course user can traverse (pytest's tmp_path is root's alone).

    Its logs and screenshots are copied into ``tmp_path`` before it is removed.
    """
    path = Path(tempfile.mkdtemp(prefix="gradetape-walk-"))
    path.chmod(0o755)
    yield path
    for kept in [*path.glob("*.log"), path / "screenshots"]:
        if kept.is_dir():
            shutil.copytree(kept, tmp_path / kept.name)
        elif kept.exists():
            shutil.copyfile(kept, tmp_path / kept.name)
    shutil.rmtree(path, ignore_errors=True)


def _course(walk):
    """The instructor's course folder (this course's config and 01_tensors).

    Returns the folder and the running ``gradetape release`` (nbgrader generate_assignment
    and the gradebook's cells), which the caller waits for with :func:`_released`.
    """
    course = walk / "course"
    course.mkdir()
    for name in ("nbgrader_config.py", "gradetape.toml"):
        shutil.copyfile(ROOT / name, course / name)
    for part in ("solutions", "exercises", "autograder/graders"):
        shutil.copytree(ROOT / part / EXERCISE, course / part / EXERCISE)
    # A copy of this course's trusted cache (answer keys are keyed by content hashes): when
    # another test already built 01's key, autograde reuses it instead of running the
    # reference and the variants again. Without it the walk is slower, not different.
    if (ROOT / ".gradetape" / "cache").is_dir():
        shutil.copytree(ROOT / ".gradetape" / "cache", course / ".gradetape" / "cache")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("GRADETAPE_DB", None)
    release = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "--root", str(course), "release", EXERCISE],
        cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    return course, release


def _released(release):
    try:
        out, _ = release.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        release.kill()
        out, _ = release.communicate()
    assert release.returncode == 0, f"gradetape release failed: {out}"


@pytest.fixture
def labs(walk_dir, student) -> Iterator[tuple[Lab, Lab, Student]]:
    """The instructor's and the student's JupyterLab, set up by course/setup_course.py."""
    exchange = setup_course.setup_exchange(walk_dir / "exchange")
    course, release = _course(walk_dir)  # runs while the two JupyterLabs start
    instructor_home = walk_dir / "instructor"
    student_home = walk_dir / "student"
    for home, role in ((instructor_home, "instructor"), (student_home, "student")):
        home.mkdir()
        setup_course.install_role(role, home / "jupyter")
    instructor_env = _lab_env(instructor_home, instructor_home / "jupyter", "root", exchange)
    student_env = _lab_env(student_home, student_home / "jupyter", student.name, exchange)
    if student.uid is None:
        with open(student_home / "jupyter" / "nbgrader_config.py", "a") as config:
            config.write(f"c.CourseDirectory.student_id = {student.name!r}\n")
    else:
        for path in [student_home, *student_home.rglob("*")]:
            os.chown(path, student.uid, pwd.getpwuid(student.uid).pw_gid)
    procs = []
    try:
        instructor, proc = _start_lab("instructor", course, instructor_env,
                                      walk_dir / "instructor.log")
        procs.append(proc)
        student_lab, proc = _start_lab("student", student_home, student_env,
                                       walk_dir / "student.log", uid=student.uid)
        procs.append(proc)
        _released(release)
        yield instructor, student_lab, student
    finally:
        if release.poll() is None:
            release.kill()
            release.wait()
        for proc in procs:
            stop_lab(proc)


@pytest.fixture
def browser():
    with launch_chromium(NEED) as chromium:
        yield chromium


def _page(browser, lab):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(TIMEOUT_S * 1000)
    page.goto(lab.url("/lab"))
    page.locator("#jp-main-dock-panel").wait_for()
    return page


def _disabled_extensions(page):
    data = json.loads(page.locator("#jupyter-config-data").text_content())
    return data.get("disabledExtensions", [])


def _nbgrader_menu(page):
    """The items of JupyterLab's Nbgrader menu (opened, read, closed)."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    items = page.locator(".lm-Menu-content .lm-Menu-itemLabel")
    items.first.wait_for()
    labels = [text.strip() for text in items.all_inner_texts() if text.strip()]
    page.keyboard.press("Escape")
    return labels


def _formgrader_action(page, button, what):
    """Click a formgrader button and wait for its success dialog (fail on its error dialog)."""
    button.click()
    dialog = page.locator("#success-modal, #error-modal").filter(has=page.locator(".modal-body"))
    dialog.first.wait_for(state="visible")
    text = dialog.first.inner_text()
    assert dialog.first.get_attribute("id") == "success-modal", f"{what} failed: {text}"
    dialog.first.get_by_role("button", name="OK").click()
    dialog.first.wait_for(state="hidden")
    return text


def _assignment_row(page, section, name=EXERCISE):
    """The assignment's row in one section of the Assignments panel."""
    return page.locator(f"#{section} .list_item").filter(has_text=name).first


def _open_assignments(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    page.locator("#released_assignments_list").wait_for()


def _refresh_assignments(page):
    page.locator("#refresh_assignments_list").click()
    page.locator("#released_assignments_list_loading").wait_for(state="hidden")


def test_fetch_validate_submit_autograde_feedback(labs, browser):
    instructor, student, who = labs
    start = time.monotonic()
    timings = {}
    shots = student.log.parent / "screenshots"
    shots.mkdir()

    # Roles: the student's JupyterLab has no instructor tools, the instructor's has them.
    spage = _page(browser, student)
    ipage = _page(browser, instructor)
    for plugin in INSTRUCTOR_TOOLS:
        assert plugin in _disabled_extensions(spage), plugin
        assert plugin not in _disabled_extensions(ipage), plugin
    assert _nbgrader_menu(spage) == ["Assignment List"]
    assert {"Assignment List", "Formgrader"} <= set(_nbgrader_menu(ipage))
    assert student.status("/formgrader") == 404
    assert student.status("/formgrader/api/assignments") == 404
    assert instructor.status("/formgrader/api/assignments") == 200
    create_tab = ".jp-SideBar .lm-TabBar-tab[title*='Create Assignment']"
    ipage.locator(create_tab).first.wait_for()
    assert spage.locator(create_tab).count() == 0

    # 1. The instructor releases 01_tensors to the exchange from formgrader.
    ipage.goto(instructor.url("/formgrader/manage_assignments"))
    row = ipage.locator("tr").filter(has=ipage.locator("td.name", has_text=EXERCISE))
    row.locator("td.status", has_text="draft").wait_for()
    _formgrader_action(ipage, row.locator("td.release a"), "release")
    row.locator("td.status", has_text="released").wait_for()
    timings["release"] = time.monotonic() - start

    # 2. The student fetches it in the Assignments panel.
    _open_assignments(spage)
    _refresh_assignments(spage)
    _assignment_row(spage, "released_assignments_list").get_by_role("button", name="Fetch").click()
    _assignment_row(spage, "fetched_assignments_list").wait_for()
    fetched = student.root_dir / EXERCISE / f"{EXERCISE}.ipynb"
    assert fetched.exists()
    assert fetched.stat().st_uid == (0 if who.uid is None else who.uid)

    # 3. ... opens the notebook, writes the reference `filled`, clicks Validate.
    spage.goto(student.url(f"/lab/tree/{EXERCISE}/{EXERCISE}.ipynb"))
    cell = spage.locator(".jp-Notebook .jp-CodeCell").filter(
        has=spage.locator(".jp-InputArea", has_text="def filled("))
    cell.locator(".cm-content").click()
    spage.keyboard.press("Control+a")
    spage.keyboard.press("Delete")
    spage.keyboard.type(FILLED)
    assert cell.locator(".cm-content").inner_text().strip() == FILLED
    hand_in = spage.locator(".jp-MarkdownCell").filter(has_text="How to hand in")
    assert hand_in.count() == 1
    spage.locator(".validate-button").click()
    results = spage.locator(".jp-Dialog").filter(has_text="Validation Results")
    results.wait_for()
    text = results.inner_text()
    assert "error running the validate command" not in text, text
    # Only `filled` is written: Validate must list what is still missing, not pass.
    assert results.locator(".validation-failed").count() == 1, text
    spage.screenshot(path=shots / "1-validate.png")
    results.get_by_role("button", name="Ok").click()
    on_disk = json.loads(fetched.read_text())  # Validate saved the notebook first
    assert any(FILLED in "".join(c["source"]) for c in on_disk["cells"])
    timings["validate"] = time.monotonic() - start

    # 4. ... and submits.
    _open_assignments(spage)
    _assignment_row(spage, "fetched_assignments_list").get_by_role("button", name="Submit").click()
    _assignment_row(spage, "submitted_assignments_list").wait_for()
    spage.screenshot(path=shots / "2-submitted.png")

    # 5. The instructor collects, then autogrades with formgrader's Autograde button.
    ipage.goto(instructor.url("/formgrader/manage_assignments"))
    row = ipage.locator("tr").filter(has=ipage.locator("td.name", has_text=EXERCISE))
    row.locator("td.status", has_text="released").wait_for()
    _formgrader_action(ipage, row.locator("td.collect a"), "collect")
    assert (instructor.root_dir / "submitted" / STUDENT / EXERCISE / f"{EXERCISE}.ipynb").exists()
    ipage.goto(instructor.url(f"/formgrader/manage_submissions/{EXERCISE}"))
    sub = ipage.locator("tr").filter(has=ipage.locator("td", has_text=STUDENT))
    sub.locator("td.status", has_text="needs autograding").wait_for()
    _formgrader_action(ipage, sub.locator("td.autograde a"), "autograde")
    sub.locator("td.status", has_text="graded").wait_for()
    score = sub.locator("td.score").inner_text()
    timings["autograde"] = time.monotonic() - start
    ipage.screenshot(path=shots / "3-autograded.png")

    # 6. ... generates and releases feedback (formgrader's buttons).
    ipage.goto(instructor.url("/formgrader/manage_assignments"))
    row = ipage.locator("tr").filter(has=ipage.locator("td.name", has_text=EXERCISE))
    row.locator("td.generate-feedback a").wait_for()
    _formgrader_action(ipage, row.locator("td.generate-feedback a"), "generate feedback")
    _formgrader_action(ipage, row.locator("td.release-feedback a"), "release feedback")

    # 7. The student fetches the feedback and reads the hidden tests' verdicts.
    _open_assignments(spage)
    _refresh_assignments(spage)
    submitted = _assignment_row(spage, "submitted_assignments_list")
    submitted.filter(has_text="feedback available to fetch").wait_for()
    submitted.get_by_role("button", name="Fetch Feedback").click()
    submitted.locator("a", has_text="view feedback").wait_for()
    pages = sorted((student.root_dir / EXERCISE / "feedback").glob(f"*/{EXERCISE}.html"))
    assert len(pages) == 1, pages
    rel = pages[0].relative_to(student.root_dir).as_posix()
    spage.goto(student.url(f"/files/{rel}"))
    feedback = spage.locator("body").inner_text()
    (shots / "feedback.txt").write_text(feedback)
    spage.screenshot(path=shots / "4-feedback.png", full_page=True)
    timings["feedback"] = time.monotonic() - start

    # The hidden grader's verdicts: `filled` passes, the unwritten functions fail.
    assert "✓ test_filled" in feedback, feedback[:3000]
    assert "✗ test_arange_matrix" in feedback, feedback[:3000]
    assert "Traceback" not in feedback, "students never see a stack trace"
    mode = "root with its own HOME" if who.uid is None else f"unix user {who.name}"
    print(f"course walk (student as {mode}): score {score}; " + ", ".join(f"{k} at {v:.0f} s" for k, v in timings.items())
          + f"; screenshots in {shots}")
