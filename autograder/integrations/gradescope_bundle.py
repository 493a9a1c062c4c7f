"""Gradescope autograder bundles: ``gradetape gradescope-bundle EXERCISE -o bundle.zip``.

Gradescope builds a Docker image from an uploaded zip: it unpacks the zip into
``/autograder/source``, runs its ``setup.sh`` once, then, for every submission, runs
``run_autograder`` in a fresh container with the student's files in
``/autograder/submission`` and reads ``/autograder/results/results.json``.

The zip holds:

``setup.sh``, ``run_autograder``
    The two scripts Gradescope asks for (see :data:`SETUP_SH` and :data:`RUN_AUTOGRADER`).
``gradetape/``
    The course root, trimmed to this exercise: the ``autograder`` and ``gradebook``
    packages with only this exercise's hidden grader and known-wrong variants,
    ``pyproject.toml``, ``requirements.lock``, ``README.md``, the release notebook, a
    ``gradetape.toml`` without the seed, and the private held-out file when the course has
    one. Never ``solutions/``: the reference solution is not shipped, its built key is.
``trusted/``
    What only the trusted side reads: ``bundle.json`` (the course seed, the key's digest,
    a SHA-256 of every shipped course file) and the answer key and variant runs as they
    were kept in the course's cache (``key/``, ``variants/<name>/``).

The runner (:mod:`autograder.integrations.gradescope_runner`) loads all of ``trusted/`` into memory
before any student code runs and, when no bubblewrap sandbox is available (weak
isolation), deletes it from the container first.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.judge.answer_key import build_key, cached_run
from autograder.judge.misconceptions import variant_tests
from autograder.judge.static import run_static_checks
from autograder.load.exercise import Exercise, load_exercise
from autograder.load.notebook import prepare, read_notebook
from autograder.load.release import variant_submission
from autograder.run.sandbox import Sandbox, SandboxSpec, make_sandbox
from autograder.settings import CONFIG_FILE, CourseSettings, Limits

BUNDLE_FORMAT = 1
COURSE_DIR = "gradetape"
TRUSTED_DIR = "trusted"
MANIFEST = "bundle.json"
PRIVATE_DIR = "private"
#: Environment variable naming Gradescope's root folder (default ``/autograder``).
ROOT_ENV = "GRADETAPE_GRADESCOPE_ROOT"
#: Environment variable naming the Python that runs the runner (default: the bundle's venv).
PYTHON_ENV = "GRADETAPE_GRADESCOPE_PYTHON"
DEFAULT_ROOT = "/autograder"
#: Course files shipped besides the two packages.
TOP_FILES = ("pyproject.toml", "requirements.lock", "README.md")
_SKIP = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}

SETUP_SH = r"""#!/usr/bin/env bash
# GradeTape: Gradescope image setup (runs once, as root, when the image is built).
# Installs bubblewrap when apt can, a Python that pyproject.toml accepts, and GradeTape
# with the pinned dependencies into /autograder/venv.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
course="$here/gradetape"
venv="${GRADETAPE_GRADESCOPE_ROOT:-/autograder}/venv"
export DEBIAN_FRONTEND=noninteractive

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 \
        || { apt-get update -y >/dev/null 2>&1 && apt-get install -y --no-install-recommends "$@"; }
}

if ! command -v bwrap >/dev/null 2>&1; then
    apt_install bubblewrap || echo "setup.sh: bubblewrap could not be installed;" \
        "grading will run with weak isolation (see the README, Gradescope)"
fi

# A Python whose version pyproject.toml's requires-python accepts.
fits() {
    "$1" - "$course/pyproject.toml" <<'PY' >/dev/null 2>&1
import operator, sys, tomllib
spec = tomllib.load(open(sys.argv[1], "rb"))["project"]["requires-python"]
ops = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
       ">": operator.gt, "<": operator.lt}
have = sys.version_info[:2]
for clause in spec.split(","):
    clause = clause.strip()
    op = next(o for o in (">=", "<=", "==", "!=", ">", "<") if clause.startswith(o))
    want = tuple(int(x) for x in clause[len(op):].strip().split(".")[:2])
    if not ops[op](have, want):
        sys.exit(1)
PY
}
python=""
for candidate in ${GRADETAPE_PYTHON:-} python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && fits "$candidate"; then
        python="$(command -v "$candidate")"; break
    fi
done
if [ -z "$python" ]; then
    apt_install python3.11 python3.11-venv || true
    command -v python3.11 >/dev/null 2>&1 && fits python3.11 && python="$(command -v python3.11)"
fi
if [ -z "$python" ]; then
    echo "setup.sh: no Python matching requires-python in pyproject.toml; choose a newer" \
        "base image in Gradescope's autograder settings or set GRADETAPE_PYTHON" >&2
    exit 1
fi
version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
"$python" -m venv "$venv" 2>/dev/null \
    || { apt_install "python$version-venv"; "$python" -m venv "$venv"; }
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -c "$course/requirements.lock" -e "$course"
"$venv/bin/python" -c "import autograder.integrations.gradescope_runner, tensorflow as tf; \
  print(tf.__version__)"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# GradeTape: grade /autograder/submission/*.ipynb into /autograder/results/results.json.
# GRADETAPE_GRADESCOPE_ROOT (default /autograder) and GRADETAPE_GRADESCOPE_PYTHON (default
# the venv setup.sh made) let it run outside Gradescope.
set -u
root="${GRADETAPE_GRADESCOPE_ROOT:-/autograder}"
python="${GRADETAPE_GRADESCOPE_PYTHON:-$root/venv/bin/python}"
course="$root/source/gradetape"
export GRADETAPE_GRADESCOPE_ROOT="$root" PYTHONPATH="$course" PYTHONNOUSERSITE=1
export TF_CPP_MIN_LOG_LEVEL=2
unset GRADETAPE_SECRET_SEED
mkdir -p "$root/results"
rm -f "$root/results/results.json"
cd "$course" && "$python" -m autograder.integrations.gradescope_runner
status=$?
if [ ! -s "$root/results/results.json" ]; then
    # The runner could not even start: still give Gradescope a valid result.
    reason="The autograder could not run (a problem on the grading side, not in your notebook)."
    reason="$reason Your instructor can see what went wrong and regrade this submission."
    printf '{"score": 0, "execution_time": 0, "output": "%s", "stdout_visibility": "hidden",'\
' "tests": []}\n' "$reason" > "$root/results/results.json"
    echo "run_autograder: the runner exited with status $status and wrote no results" >&2
fi
exit 0
"""


class BundleError(RuntimeError):
    """The bundle cannot be built or read; the message says what to do."""


@dataclass(frozen=True)
class Manifest:
    """``trusted/bundle.json``: what the runner needs beyond the course files.

    Attributes:
        exercise: The exercise's name.
        seed: The course seed the key was built with (trusted side only).
        key: The answer key's digest (its folder name in the course cache).
        variants: Variant name (its run is shipped) -> the tests the variant's source fails
            statically (computed here: a variant is the reference with some cells
            swapped, and the reference is not shipped).
        files: Course file (relative to ``gradetape/``) -> SHA-256 of its bytes.
        created: Unix time of the build.
    """

    exercise: str
    seed: int
    key: str
    variants: dict[str, list[str]]
    files: dict[str, str]
    created: float = 0.0

    def to_json(self) -> str:
        """The JSON text of ``bundle.json``."""
        body: dict[str, Any] = {"format": BUNDLE_FORMAT, **self.__dict__}
        return json.dumps(body, indent=1, sort_keys=True) + "\n"

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read and check ``bundle.json``.

        Raises:
            BundleError: If it is missing, of another format, or malformed.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != BUNDLE_FORMAT:
                raise BundleError(
                    f"{path} is bundle format {data.get('format')!r}, this GradeTape reads "
                    f"{BUNDLE_FORMAT}; rebuild the bundle with `gradetape gradescope-bundle`"
                )
            return cls(
                exercise=str(data["exercise"]),
                seed=int(data["seed"]),
                key=str(data["key"]),
                variants={str(k): [str(t) for t in v] for k, v in dict(data["variants"]).items()},
                files={str(k): str(v) for k, v in dict(data["files"]).items()},
                created=float(data.get("created", 0.0)),
            )
        except BundleError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleError(
                f"{path} is missing or malformed ({type(exc).__name__}: {exc}); rebuild the "
                "bundle with `gradetape gradescope-bundle` and upload it again"
            ) from None


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, in hex."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def course_files(settings: CourseSettings, exercise: Exercise) -> dict[str, Path]:
    """The course files a bundle ships, by their path under ``gradetape/``.

    The two packages (without other exercises' graders or caches), the top-level project
    files and this exercise's release notebook. Never the solutions.

    Raises:
        BundleError: If a needed file is missing.
    """
    root = settings.root
    files: dict[str, Path] = {}
    for package in ("autograder", "gradebook"):
        for path in walk_files(root / package):
            if path.is_symlink():
                continue
            rel = path.relative_to(root)
            parts = rel.parts
            if parts[:2] == ("autograder", "graders") and len(parts) > 3:
                if parts[2] != exercise.name:
                    continue
            files[rel.as_posix()] = path
    for name in TOP_FILES:
        if not (root / name).is_file():
            raise BundleError(f"{root / name} is missing; a bundle needs it to install GradeTape")
        files[name] = root / name
    if not exercise.release_path.is_file():
        raise BundleError(
            f"the release {exercise.release_path} is missing; run `gradetape release "
            f"{exercise.name}` first"
        )
    files[exercise.release_path.relative_to(root).as_posix()] = exercise.release_path
    return files


def walk_files(folder: Path) -> Iterator[Path]:
    """Every regular file under ``folder`` (no caches or bytecode; links are not followed)."""
    for path in sorted(folder.iterdir()):
        if path.name in _SKIP or path.suffix in {".pyc", ".pyo"}:
            continue
        if path.is_symlink():
            yield path  # listed, so a planted link is noticed; never followed
        elif path.is_dir():
            yield from walk_files(path)
        elif path.is_file():
            yield path


def bundle_config(settings: CourseSettings, private: dict[str, str]) -> str:
    """The bundle's ``gradetape.toml``: the course's limits and isolation, never the seed."""
    lines = [
        "# GradeTape course settings inside a Gradescope bundle (generated; no seed here:",
        "# the seed is in trusted/bundle.json, which only the trusted side reads).",
        f'isolation = "{settings.isolation}"',
        "workers = 1",
        "",
        "[limits]",
    ]
    defaults = Limits()
    for name, value in settings.limits.__dict__.items():
        if value != getattr(defaults, name):
            lines.append(f"{name} = {value!r}")
    if private:
        lines += ["", "[heldout]"]
        lines += [f'{key} = "{path}"' for key, path in sorted(private.items())]
    return "\n".join(lines) + "\n"


def build_bundle(
    settings: CourseSettings,
    name: str,
    output: Path,
    sandbox: Sandbox | None = None,
) -> Path:
    """Build the Gradescope autograder zip of one exercise.

    Builds (or reads from the course cache) the answer key and the known-wrong variants'
    runs, then zips them with the trimmed course and the two scripts.

    Args:
        settings: The course (its seed is the one the bundle grades with).
        name: The exercise.
        output: The zip to write.
        sandbox: The sandbox for the key and variant runs (default: the course's).

    Returns:
        The zip written.

    Raises:
        FileNotFoundError: If the exercise does not exist.
        autograder.judge.answer_key.GraderError: If the reference solution fails its own grader.
        BundleError: If a needed file is missing.
    """
    exercise = load_exercise(settings, name)
    files = course_files(settings, exercise)  # fail early, before any TensorFlow job
    box = sandbox or make_sandbox(SandboxSpec.from_settings(settings, exercise.limits))
    with tempfile.TemporaryDirectory(prefix="gradetape-bundle-") as tmp:
        stage = Path(tmp)
        trusted = stage / TRUSTED_DIR
        try:
            key = build_key(exercise, settings.seed, box, settings.cache)
            shutil.copytree(settings.cache / "keys" / name / key.digest, trusted / "key")
            variants: dict[str, list[str]] = {}
            release = read_notebook(exercise.release_path)
            for variant in exercise.variants() if settings.misconceptions else []:
                prepared = prepare(variant_submission(exercise, variant), release)
                folder = settings.cache / "variants" / name / variant.name
                select = variant_tests(variant, key)
                digest, _ = cached_run(
                    exercise, list(prepared.cells), settings.seed, box, folder, select=select
                )
                shutil.copytree(folder / digest, trusted / "variants" / variant.name)
                static = run_static_checks(exercise.static_checks, prepared.student_code)
                variants[variant.name] = sorted(static)
        finally:
            if sandbox is None:
                box.close()
        private = {}
        for key_name, source in exercise.private_data.items():
            rel = f"{PRIVATE_DIR}/{key_name}{source.path.suffix or '.npz'}"
            files[rel] = source.path
            private[key_name] = rel
        course = stage / COURSE_DIR
        for rel, path in files.items():
            (course / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, course / rel)
        (course / CONFIG_FILE).write_text(bundle_config(settings, private), encoding="utf-8")
        hashes = {rel: sha256_file(course / rel) for rel in sorted([*files, CONFIG_FILE])}
        manifest = Manifest(name, settings.seed, key.digest, variants, hashes, time.time())
        (trusted / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        (stage / "setup.sh").write_text(SETUP_SH, encoding="utf-8")
        (stage / "run_autograder").write_text(RUN_AUTOGRADER, encoding="utf-8")
        return write_zip(stage, output)


def write_zip(stage: Path, output: Path) -> Path:
    """Zip ``stage``'s contents at the archive's root (scripts executable, others 0644)."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(stage.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            rel = path.relative_to(stage).as_posix()
            info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
            mode = 0o755 if rel in {"setup.sh", "run_autograder"} else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    partial.replace(output)
    return output


def unpack(bundle: Path, source: Path) -> Path:
    """Unpack a bundle the way Gradescope does (into ``source``), keeping script modes.

    For local runs and tests; refuses members that would land outside ``source``.

    Raises:
        BundleError: If a member's path escapes ``source``.
    """
    source.mkdir(parents=True, exist_ok=True)
    base = source.resolve()
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = (base / info.filename).resolve()
            if not target.is_relative_to(base) or info.is_dir():
                if info.is_dir():
                    continue
                raise BundleError(f"{bundle}: member {info.filename!r} escapes the folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            target.chmod((info.external_attr >> 16) & 0o777 or 0o644)
    return source
