"""The set-up files agree with each other: pyproject pins, environment.yml, the lock file."""

import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pyproject_pins():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def environment_pins():
    pins = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s+- ([A-Za-z0-9_.\-\[\]]+==\S+)\s*$", line)
        if m:
            pins.add(m.group(1))
    return pins


def normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_direct_dependency_is_pinned_exactly():
    for pin in pyproject_pins():
        assert "==" in pin, f"{pin} is not pinned with =="


def test_environment_yml_mirrors_pyproject():
    assert environment_pins() == pyproject_pins()


def test_lock_file_agrees_with_pins():
    lock = locked_versions()
    for pin in pyproject_pins():
        name, version = pin.split("==")
        name = name.split("[")[0]
        assert lock.get(normal(name)) == version, f"requirements.lock disagrees on {pin}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "scripts/test" in readme and "scripts/demo" in readme
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


# --- Supported Python versions: one range, said the same way everywhere --------------------

CANDIDATE_MINORS = [f"3.{m}" for m in range(6, 30)]


def supported_by(spec):
    from packaging.specifiers import SpecifierSet

    return [v for v in CANDIDATE_MINORS if SpecifierSet(spec).contains(v)]


def pyproject_data():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def supported_pythons():
    return supported_by(pyproject_data()["project"]["requires-python"])


def test_requires_python_is_a_closed_range_that_includes_the_running_python():
    versions = supported_pythons()
    assert versions and versions[-1] != CANDIDATE_MINORS[-1], "requires-python needs an upper bound"
    minors = [int(v.split(".")[1]) for v in versions]
    assert minors == list(range(minors[0], minors[-1] + 1)), f"gaps in {versions}"
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert running in versions, f"tests run on Python {running}, outside requires-python"


def test_bootstrap_accepts_exactly_the_supported_pythons():
    text = (ROOT / "scripts" / "bootstrap").read_text()
    m = re.search(r'^SUPPORTED="([^"]*)"$', text, re.M)
    assert m, "scripts/bootstrap has no SUPPORTED=\"...\" line"
    assert m.group(1).split() == supported_pythons()


def test_environment_yml_python_matches_requires_python():
    specs = re.findall(r"^\s+- python([<>=!~,.\d\s]+)$", (ROOT / "environment.yml").read_text(), re.M)
    assert len(specs) == 1, f"environment.yml should name python once, found {specs}"
    assert supported_by(specs[0].replace(" ", "")) == supported_pythons()


def test_ci_matrix_covers_every_supported_python():
    text = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    m = re.search(r"^\s+python:\s*\[([^\]]*)\]", text, re.M)
    assert m, "tests.yml has no python matrix"
    assert [v.strip().strip("\"'") for v in m.group(1).split(",")] == supported_pythons()
    assert ".ci/run" in text


def test_type_checker_and_linter_target_the_lowest_supported_python():
    data = pyproject_data()["tool"]
    lowest = supported_pythons()[0]
    assert data["mypy"]["python_version"] == lowest
    assert data["ruff"]["target-version"] == "py" + lowest.replace(".", "")


# --- The lock is complete for the running Python ---------------------------------------------


def locked_versions():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            lock[normal(name)] = version.strip()
    return lock


def installed_closure(root, extras):
    """Every distribution ``root[extras]`` pulls in on this Python, by normalised name."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen, todo = {}, [(root, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        key = normal(name)
        if key in seen and wanted <= seen[key]:
            continue
        seen[key] = seen.get(key, frozenset()) | wanted
        for text in metadata.distribution(name).requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *wanted}):
                todo.append((req.name, frozenset(req.extras)))
    seen.pop(normal(root))
    return seen


def test_every_installed_dependency_is_locked_at_its_installed_version():
    from importlib import metadata

    try:
        closure = installed_closure("gradetape", {"dev"})
    except metadata.PackageNotFoundError as exc:
        pytest.skip(f"not run from a bootstrapped venv ({exc} is not installed)")
    lock = locked_versions()
    missing = sorted(name for name in closure if name not in lock)
    assert not missing, f"installed for this Python but not in requirements.lock: {missing}"
    drift = {n: metadata.version(n) for n in closure if metadata.version(n) != lock[n]}
    assert not drift, f"installed versions differ from requirements.lock (re-run scripts/bootstrap): {drift}"
