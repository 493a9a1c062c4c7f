"""Attacks on isolation between the jobs of one batch (issue 12), graded beside honest classmates.

A test sees a sandboxed job only through its score, so every observation is encoded in one:
an ACCOMPLICE notebook starts from the blank release, runs probes (does a marker the attacker
left exist? is its daemon visible? does its shared memory segment exist?), and defines a
reference function only when its probe saw something. Probe ``i`` gates function
``PROBE_SLOTS[i]``; ``filled`` (1 point) is always defined once every probe has run, so an
accomplice whose probes ran to the end and saw nothing scores exactly ``SANITY`` (1.0). Zero
means the probe code itself broke; more names what leaked (:func:`leaks`).

The ATTACKER is the reference solution plus the attack; it must keep full marks (nothing it
does may hurt itself under the target sandbox). A CONTROL student runs an attack and its
probes in one job, where everything must be seen: it proves each probe can fire.

Every attack carries a per-batch token ``tok`` in its file names, process names and IPC keys,
so traces of one batch are never mistaken for another's, and the host can be searched for it.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

FULL = 15.0
#: What an accomplice scores when its probes ran and saw nothing: ``filled``'s one point.
SANITY = 1.0
SANITY_FUNCTION = "filled"
#: Functions gated by probes, in order (probe ``i`` gates ``PROBE_SLOTS[i]``).
PROBE_SLOTS = (
    "arange_matrix",
    "scale_pixels",
    "round_to_int",
    "every_other_row",
    "last_column",
    "sub_block",
    "add_batch_axis",
    "drop_unit_axes",
    "channels_first",
    "merge_last_two_axes",
)
#: The hidden test ids of 01_tensors that call each function.
TESTS_OF = {
    "filled": ("test_filled",),
    "arange_matrix": ("test_arange_matrix",),
    "scale_pixels": ("test_scale_pixels",),
    "round_to_int": ("test_round_to_int",),
    "every_other_row": ("test_every_other_row",),
    "last_column": ("test_last_column",),
    "sub_block": ("test_sub_block",),
    "add_batch_axis": ("test_add_batch_axis",),
    "drop_unit_axes": ("test_drop_unit_axes",),
    "channels_first": ("test_channels_first",),
    "merge_last_two_axes": ("test_merge_last_two_axes", "test_merge_last_two_axes_symbolic"),
}

Builder = Callable[[Path, nbformat.NotebookNode, nbformat.NotebookNode, str], None]


@dataclass(frozen=True)
class Student:
    """One student of the isolation batch.

    Attributes:
        name: Student id (the batch grades students in sorted order).
        attack_class: Which of the issue's attack classes this student belongs to.
        build: Writes the submission into the student's assignment folder.
        role: ``honest``, ``attacker``, ``accomplice`` or ``control``.
        score: The score it must get (``None``: zero or full marks, with a reason for zero).
        probes: For accomplices and controls, the probe names in slot order.
    """

    name: str
    attack_class: str
    build: Builder
    role: str
    score: float | None
    probes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Setting:
    """What the attacks of one batch need to know.

    Attributes:
        tok: Per-batch token used in every trace an attack leaves.
        canary: A host directory the swapped-folder attack points its symlinks at.
        storage_mb: The per-job storage limit the storage attack measures.
    """

    tok: str
    canary: Path
    storage_mb: int


# ---------------------------------------------------------------------------------------------
# Notebook building


def solution_functions(ref: nbformat.NotebookNode) -> dict[str, str]:
    """Function name -> reference source (solution markers removed) of every solution cell."""
    found: dict[str, str] = {}
    for cell in ref.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        source = "\n".join(
            line
            for line in cell.source.splitlines()
            if not re.match(r"\s*### (BEGIN|END) SOLUTION", line)
        )
        match = re.search(r"^def (\w+)\(", source, flags=re.MULTILINE)
        if match:
            found[match.group(1)] = source
    return found


def _notebook(
    base: str, cells: Sequence[str] | Callable[[nbformat.NotebookNode], Sequence[str]]
) -> Builder:
    """A builder: the reference (``"ref"``) or blank release with code cells appended."""

    def build(
        folder: Path, ref: nbformat.NotebookNode, blank: nbformat.NotebookNode, name: str
    ) -> None:
        nb = copy.deepcopy(ref if base == "ref" else blank)
        for source in cells(ref) if callable(cells) else cells:
            nb.cells.append(new_code_cell(source))
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / name)

    return build


def _raw(content: bytes) -> Builder:
    def build(
        folder: Path, ref: nbformat.NotebookNode, blank: nbformat.NotebookNode, name: str
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)

    return build


def gated(
    probes: dict[str, str], prelude: str = ""
) -> Callable[[nbformat.NotebookNode], list[str]]:
    """Accomplice cells: run each probe (a function body returning a bool), then define
    ``PROBE_SLOTS[i]`` only if probe ``i`` saw something, and ``filled`` once all have run.

    A probe that raises counts as "saw nothing"; a probe cannot raise past the gate.
    """
    if len(probes) > len(PROBE_SLOTS):
        raise ValueError(f"at most {len(PROBE_SLOTS)} probes per accomplice, got {len(probes)}")

    def cells(ref: nbformat.NotebookNode) -> list[str]:
        funcs = solution_functions(ref)
        lines = ["import os, sys, time, glob, socket, ctypes", prelude, "SEEN = {}"]
        for name, body in probes.items():
            lines.append(
                f"def _probe_{name}():\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}"
            )
            lines.append(
                f"try:\n    SEEN[{name!r}] = bool(_probe_{name}())\nexcept BaseException:\n"
                f"    SEEN[{name!r}] = False"
            )
        for slot, name in zip(PROBE_SLOTS, probes, strict=False):
            lines.append(f"if SEEN.get({name!r}):\n{textwrap.indent(funcs[slot], '    ')}")
        lines.append(funcs[SANITY_FUNCTION])
        return ["\n".join(lines)]

    return cells


def leaks(student: Student, passed_tests: set[str]) -> list[str]:
    """The probes of ``student`` whose gated tests passed (what the job could see)."""
    seen = []
    for slot, probe in zip(PROBE_SLOTS, student.probes, strict=False):
        if any(f"test_tensors.py::{t}" in passed_tests for t in TESTS_OF[slot]):
            seen.append(probe)
    return seen


# ---------------------------------------------------------------------------------------------
# Shared snippets (sandbox side)

#: Starts ``script`` as a daemon: double fork, own session, re-exec'd so ``tag`` names it.
DAEMONIZE = """
def _daemon(script, tag):
    import os, sys
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", script, tag])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
"""

IGNORE_SIGNALS = (
    "import signal\n"
    "for _s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2,"
    " signal.SIGPIPE, signal.SIGQUIT):\n    signal.signal(_s, signal.SIG_IGN)\n"
)


def _places(tok: str) -> str:
    """Sandbox-side expression: every directory an attacker tries to leave a file in."""
    return (
        "sorted(set(['/tmp', '/tmp/home', os.path.expanduser('~'), os.getcwd(), '/dev/shm', '/',"
        " '/etc', '/opt', '/opt/gradetape', '/opt/gradetape/gradetape_runtime', '/job', '/job/in',"
        " '/job/in/grader', '/job/in/data', '/spool', '/var/tmp', '/run', '/usr/local/lib', '/root']"
        " + [p for p in sys.path if p] + glob.glob('/spool/*') + glob.glob('/spool/*/in')))"
    )


def persist_attack(setting: Setting, ref_functions: dict[str, str]) -> str:
    """Leave markers, an importable module, pytest configuration and site hooks everywhere."""
    tok = setting.tok
    module = "\n\n".join(["import tensorflow as tf", *ref_functions.values()])
    hostile_conftest = "def pytest_collection_modifyitems(items):\n    items.clear()\n"
    return f"""
import os, sys, glob
TOK = {tok!r}
FILES = {{
    TOK: "marker",
    TOK + ".py": "MARK = 1\\n",
    "gt_evil.py": {module!r},
    "conftest.py": {hostile_conftest!r},
    "pytest.ini": "[pytest]\\npython_functions = gt_never_*\\naddopts = --co\\n",
    "tox.ini": "[pytest]\\npython_functions = gt_never_*\\n",
    "setup.cfg": "[tool:pytest]\\npython_functions = gt_never_*\\n",
    "sitecustomize.py": "import os\\nos.environ['GT_EVIL'] = '1'\\n",
    "usercustomize.py": "import os\\nos.environ['GT_EVIL'] = '1'\\n",
    "gt_evil.pth": "import os; os.environ['GT_EVIL'] = '1'\\n",
}}
written = []
for place in {_places(tok)}:
    for fname, text in FILES.items():
        try:
            with open(os.path.join(place, fname), "w") as fh:
                fh.write(text)
            written.append(os.path.join(place, fname))
        except OSError:
            pass
    try:
        os.makedirs(os.path.join(place, TOK + "-dir", "sub"), exist_ok=True)
    except OSError:
        pass
try:
    os.mkfifo("/tmp/" + TOK + "-fifo")
except OSError:
    pass
"""


def persist_probes(tok: str) -> dict[str, str]:
    """Probes for the persistence attacker's traces (10 slots)."""

    def exists(*paths: str) -> str:
        return f"return any(os.path.lexists(p) for p in {list(paths)!r})"

    return {
        "tmp": exists(f"/tmp/{tok}", f"/tmp/{tok}-fifo", f"/tmp/{tok}-dir", "/tmp/gt_evil.py"),
        "home_cwd": f"return any(os.path.lexists(os.path.join(d, {tok!r})) for d in ('/tmp/home', os.path.expanduser('~'), os.getcwd()))",
        "dev_shm": exists(f"/dev/shm/{tok}", "/dev/shm/gt_evil.py"),
        "root": exists(f"/{tok}", "/pytest.ini", "/conftest.py", "/gt_evil.py"),
        "etc": exists(f"/etc/{tok}", "/etc/gt_evil.py"),
        "opt": exists(
            f"/opt/{tok}", f"/opt/gradetape/{tok}", f"/opt/gradetape/gradetape_runtime/{tok}"
        ),
        "sys_path": f"return any(os.path.lexists(os.path.join(p, {tok!r})) or os.path.lexists(os.path.join(p, 'gt_evil.py')) for p in sys.path if p) or os.environ.get('GT_EVIL') == '1'",
        "job_in": exists(
            f"/job/{tok}",
            f"/job/in/{tok}",
            f"/job/in/grader/{tok}",
            f"/job/in/data/{tok}",
            "/job/pytest.ini",
            "/job/in/pytest.ini",
            "/job/in/grader/conftest.py",
        ),
        "spool": f"return os.path.lexists('/spool/{tok}') or bool(glob.glob('/spool/*/{tok}') + glob.glob('/spool/*/in/{tok}'))",
        "anywhere": f"""
end = time.monotonic() + 6
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev/pts")]
    if any(n.startswith({tok!r}) for n in files + dirs):
        return True
    if time.monotonic() > end:
        return False
return False""",
    }


def daemon_attack(tok: str) -> str:
    """Leave a daemon that writes markers, then attacks whatever it sees once its job ended."""
    script = f"""
import os, time, glob, ctypes
{IGNORE_SIGNALS}
TOK, JOB = {tok!r}, int(os.environ.get("GT_JOB", "0") or 0)
me = os.getpid()
libc = ctypes.CDLL(None, use_errno=True)
end = time.time() + 150
n = 0
while time.time() < end:
    n += 1
    for d in ("/tmp", "/tmp/home", "/dev/shm", "/job/out"):
        try:
            with open(f"{{d}}/{{TOK}}-daemon-{{n % 5}}", "w") as fh:
                fh.write(str(n))
        except OSError:
            pass
    try:
        os.kill(JOB, 0)
        job_alive = True
    except OSError:
        job_alive = False
    if not job_alive:
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == me:
                continue
            try:
                cmd = open(f"/proc/{{p}}/cmdline", "rb").read()
            except OSError:
                continue
            if TOK.encode() in cmd or b"gradetape_runtime" not in cmd:
                continue
            libc.ptrace(16, int(p), 0, 0)  # PTRACE_ATTACH: stops it if allowed
            for fd in glob.glob(f"/proc/{{p}}/fd/*"):
                try:
                    w = os.open(fd, os.O_WRONLY | os.O_NONBLOCK)
                    os.write(w, b"ready\\ndone 0 0\\n")
                    os.close(w)
                except OSError:
                    pass
            try:
                os.kill(int(p), 9)
            except OSError:
                pass
    time.sleep(0.2)
"""
    return (
        DAEMONIZE
        + f"import os\nos.environ['GT_JOB'] = str(os.getpid())\n_daemon({script!r}, 'gt-evil-daemon-{tok}')\n"
        + "import time\ntime.sleep(0.5)\n"
    )


def daemon_probes(tok: str) -> dict[str, str]:
    """Probes for a surviving daemon: its markers, its name, any process not of this job."""
    return {
        "daemon_markers": f"return bool([p for d in ('/tmp', '/tmp/home', '/dev/shm', '/job/out') for p in glob.glob(d + '/{tok}-daemon-*')])",
        "daemon_process": f"""
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            if b"gt-evil-daemon-{tok}" in open(f"/proc/{{p}}/cmdline", "rb").read():
                return True
        except OSError:
            pass
return False""",
        "foreign_pids": """
me = os.getpid()
def parent(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return 0
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == me:
        continue
    pid, hops = int(p), 0
    try:
        while pid not in (0, me) and hops < 64:
            pid, hops = parent(pid), hops + 1
    except OSError:
        continue
    if pid != me:
        return True
return False""",
    }


def _ipc_key(tok: str) -> int:
    return int(tok[:7], 16) + 1


def _tcp_port(tok: str) -> int:
    return 20000 + int(tok[:6], 16) % 20000


def ipc_attack(tok: str) -> str:
    """SysV shared memory, a semaphore and a message queue with fixed keys; a daemon holding
    an abstract unix socket and a localhost TCP listener."""
    key, port = _ipc_key(tok), _tcp_port(tok)
    server = f"""
import socket, select, time
{IGNORE_SIGNALS}
socks = []
try:
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.bind("\\0gt-evil-{tok}")
    u.listen(8)
    socks.append(u)
except OSError:
    pass
try:
    t = socket.socket()
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", {port}))
    t.listen(8)
    socks.append(t)
except OSError:
    pass
end = time.time() + 150
while socks and time.time() < end:
    for s in select.select(socks, [], [], 1.0)[0]:
        try:
            c, _ = s.accept()
            c.sendall(b"gt-evil")
            c.close()
        except OSError:
            pass
"""
    return (
        DAEMONIZE
        + f"""
import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_CREAT = 0o1000
shm = libc.shmget({key}, 4096, IPC_CREAT | 0o666)
if shm >= 0:
    addr = libc.shmat(shm, None, 0)
    if addr not in (None, ctypes.c_void_p(-1).value):
        ctypes.memmove(addr, b"gt-evil", 7)
libc.semget({key}, 1, IPC_CREAT | 0o666)
libc.msgget({key}, IPC_CREAT | 0o666)
_daemon({server!r}, "gt-evil-ipc-{tok}")
time.sleep(1.0)
"""
    )


def ipc_probes(tok: str) -> dict[str, str]:
    """Probes for the IPC attacker's objects (6 slots)."""
    key, port = _ipc_key(tok), _tcp_port(tok)
    libc = "libc = ctypes.CDLL(None, use_errno=True)\n"
    return {
        "sysv_shm": libc + f"return libc.shmget({key}, 0, 0) >= 0",
        "sysv_sem": libc + f"return libc.semget({key}, 0, 0) >= 0",
        "sysv_msg": libc + f"return libc.msgget({key}, 0, 0) >= 0",
        "sysv_listing": "return any(len(open('/proc/sysvipc/' + k).read().splitlines()) > 1 for k in ('shm', 'sem', 'msg'))",
        "abstract_socket": f'''
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(2)
s.connect("\\0gt-evil-{tok}")
return s.recv(7) == b"gt-evil"''',
        "tcp_localhost": f'''
s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
s.settimeout(2)
return s.recv(7) == b"gt-evil"''',
    }


IMPERSONATE = """
import os, glob, signal
me = os.getpid()
def _parent(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
def _mine(pid):
    hops = 0
    while pid not in (0, me) and hops < 64:
        pid, hops = _parent(pid), hops + 1
    return pid == me
ids = set(["0", "x"])
for d in ("/spool", "/job", "/job/out"):
    try:
        ids.update(n for n in os.listdir(d) if n.replace("-", "").isalnum())
    except OSError:
        pass
lines = b"ready\\n" + b"".join(f"done {i} 0\\nready\\nok {i}\\n".encode() for i in sorted(ids))
others = [int(p) for p in os.listdir("/proc") if p.isdigit() and not _mine(int(p))]
for pid in others:
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            w = os.open(fd, os.O_WRONLY | os.O_NONBLOCK)
            os.write(w, lines)
            os.close(w)
        except OSError:
            pass
for fd in range(3, 256):
    try:
        os.write(fd, lines)
    except OSError:
        pass
for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
    for pid in others:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
"""


def late(ref: nbformat.NotebookNode, payload: str) -> str:
    """A cell that runs ``payload`` now and again inside ``merge_last_two_axes`` (called by the
    last hidden tests), i.e. after the runtime has written most of its output. ``payload``
    names the job's output folder ``OUT``."""
    funcs = solution_functions(ref)
    return (
        f"def _attack_one(OUT):\n{textwrap.indent(textwrap.dedent(payload).strip(), '    ')}\n"
        "def _attack():\n"
        "    import glob, os\n"
        "    outs = ['/job/out'] if os.path.isdir('/job/out') else glob.glob('/spool/*/out')\n"
        "    for out in outs:  # the job's output folder (a warm job of the old sandbox: spool)\n"
        "        try:\n            _attack_one(out)\n        except Exception:\n            pass\n"
        "_attack()\n"
        + funcs["merge_last_two_axes"].replace("def merge_last_two_axes", "def _honest_merge")
        + "\ndef merge_last_two_axes(x):\n    try:\n        _attack()\n    except Exception:\n"
        "        pass\n    return _honest_merge(x)\n"
    )


BAD_NESTED = """
deep = "[" * 200000 + "]" * 200000
obj = '{"test": "test_tensors.py::test_zz", "values": ' + deep + '}'
for name in ("tests.jsonl", "cells.jsonl"):
    with open(OUT + "/" + name, "a") as fh:
        fh.write(deep + "\\n" + obj + "\\n" + '{"event": "end", "index": ' + deep + '}\\n')
"""

BAD_NUMBERS = """
big = "1" + "0" * 100000
long_str = "x" * (1 << 20)
for name in ("tests.jsonl", "cells.jsonl"):
    with open(OUT + "/" + name, "a") as fh:
        fh.write('{"test": "test_tensors.py::test_zz_big", "points": ' + big + ', "timeout": ' + big + '}\\n')
        fh.write('{"event": "end", "index": ' + big + ', "ok": true}\\n')
        fh.write('{"event": "start", "index": 1e999}\\n')
        fh.write('{"test": "test_tensors.py::test_zz_float", "points": 1e999, "timeout": -1e999, "values": [{"name": "x", "kind": "int", "file": 7}]}\\n')
        fh.write('{"test": "' + long_str + '", "message": "' + long_str + '"}\\n')
"""

BAD_NPY = """
import os, struct
os.makedirs(OUT + "/values", exist_ok=True)
def npy(path, header):
    text = repr(header).encode() if not isinstance(header, bytes) else header
    text += b" " * (63 - (len(text) + 10) % 64) + b"\\n"
    with open(path, "wb") as fh:
        fh.write(b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(text)) + text + b"\\x00" * 64)
headers = [
    {"descr": "<f8", "fortran_order": False, "shape": (2**40, 2**40, 2**40)},
    {"descr": "<f8", "fortran_order": False, "shape": (10**30,)},
    {"descr": "<f8", "fortran_order": False, "shape": (-1, 5)},
    {"descr": "<f8", "fortran_order": False, "shape": (0, 2**62, 2**62)},
    {"descr": "<f8", "fortran_order": False, "shape": tuple([2] * 5000)},
    {"descr": [("a", "<f8")] * 3, "fortran_order": False, "shape": (3,)},
    b"{'descr': '<f8', 'fortran_order': False, 'shape': (" + b"(" * 3000 + b")" * 3000 + b",)}",
    {"descr": "<f8", "fortran_order": "yes", "shape": (3,)},
]
names = []
for i, h in enumerate(headers):
    name = f"v9{i:04d}.npy"
    try:
        npy(OUT + "/values/" + name, h)
        names.append(name)
    except Exception:
        pass
npy(OUT + "/values/v00001.npy", {"descr": "<f8", "fortran_order": False, "shape": (2**62, 4)})
with open(OUT + "/tests.jsonl", "a") as fh:
    for i, name in enumerate(names):
        fh.write('{"test": "test_tensors.py::test_zz_npy%d", "values": [{"name": "v", "kind": "ndarray", "file": "%s"}]}\\n' % (i, name))
"""


def swap_attack(canary: Path) -> str:
    """Replace the job's output files (and the folder itself, if it can) with symlinks to a
    host directory the trusted side must never read."""
    return f"""
import os, shutil
C = {str(canary)!r}
for name in ("tests.jsonl", "cells.jsonl", "runtime_error.txt", "values"):
    p = OUT + "/" + name
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.unlink(p)
    except OSError:
        pass
    try:
        os.symlink(C + "/" + name, p)
    except OSError:
        pass
for step in (lambda: os.rename(OUT, OUT + ".gone"), lambda: os.symlink(C, OUT),
             lambda: os.rename("/job", "/job.gone"), lambda: os.symlink(C, "/job/out2")):
    try:
        step()
    except OSError:
        pass
"""


DELETE_OUT = """
import os, shutil
for name in os.listdir(OUT):
    p = OUT + "/" + name
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    except OSError:
        pass
for step in (lambda: os.rmdir(OUT), lambda: shutil.rmtree("/job", ignore_errors=True)):
    try:
        step()
    except OSError:
        pass
"""


def storage_fill(storage_mb: int) -> dict[str, str]:
    """One probe that fills /tmp, /dev/shm and /job/out until ENOSPC (or 1.25 x the limit, so
    a sandbox without the limit is not driven out of memory), frees it, and reports whether
    the total stayed below 1.1 x ``storage_mb``."""
    return {
        "within_limit": f"""
LIMIT = {storage_mb} << 20
cap = int(LIMIT * 1.25)
chunk = b"\\xa5" * (1 << 20)
total, made = 0, []
for place in ("/tmp", "/dev/shm", *(["/job/out"] if os.path.isdir("/job/out") else glob.glob("/spool/*/out"))):
    n = 0
    while total < cap:
        path = f"{{place}}/gt-fill-{{n}}"
        n += 1
        try:
            fh = open(path, "wb")
        except OSError:
            break
        made.append(path)
        full = False
        with fh:
            for _ in range(32):
                if total >= cap:
                    break
                try:
                    fh.write(chunk)
                    fh.flush()
                    total += len(chunk)
                except OSError:
                    full = True
                    break
        if full:
            break
for path in made:
    try:
        os.unlink(path)
    except OSError:
        pass
return total < LIMIT * 1.1""",
    }


def control_probes(tok: str) -> dict[str, str]:
    """Ten probes that must all fire in the job that left the traces (proves they can)."""
    persist = persist_probes(tok)
    daemon = daemon_probes(tok)
    ipc = ipc_probes(tok)
    return {
        "tmp": persist["tmp"],
        "home_cwd": persist["home_cwd"],
        "dev_shm": persist["dev_shm"],
        "import_module": "sys.path.insert(0, '/tmp')\ntry:\n    import gt_evil\n    return callable(gt_evil.filled)\nfinally:\n    sys.path.remove('/tmp')",
        "daemon_markers": daemon["daemon_markers"],
        "daemon_process": daemon["daemon_process"],
        "sysv_shm": ipc["sysv_shm"],
        "sysv_sem": ipc["sysv_sem"],
        "abstract_socket": ipc["abstract_socket"],
        "tcp_localhost": ipc["tcp_localhost"],
    }


def deep_notebook() -> bytes:
    """A notebook file whose metadata nests 100000 lists deep (a recursion bomb for loaders)."""
    deep = "[" * 100_000 + "]" * 100_000
    return (
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": ' + deep + '}, "cells": []}'
    ).encode()


# ---------------------------------------------------------------------------------------------
# The batch


def students(setting: Setting, ref_functions: dict[str, str]) -> list[Student]:
    """Every student of one isolation batch, in the order the batch grades them."""
    tok = setting.tok
    persist = persist_attack(setting, ref_functions)
    # Only plain markers and a module in places every job may write: the control must not
    # depend on what the persistence attack's pytest configuration does to its own run.
    markers = (
        "import os\n"
        f"for _d in ('/tmp', '/tmp/home', '/dev/shm'):\n"
        f"    open(os.path.join(_d, {tok!r}), 'w').write('marker')\n"
        f"open('/tmp/gt_evil.py', 'w').write({chr(10).join(['import tensorflow as tf', ref_functions['filled']])!r})\n"
    )
    control_attack = "\n".join([markers, daemon_attack(tok), ipc_attack(tok)])
    imported = "\n".join(
        [
            "try:\n    from gt_evil import "
            + ", ".join(PROBE_SLOTS)
            + "\nexcept Exception:\n    pass",
            ref_functions[SANITY_FUNCTION],
        ]
    )

    def honest(name: str, cls: str) -> Student:
        return Student(name, cls, _notebook("ref", []), "honest", FULL)

    def accomplice(name: str, cls: str, probes: dict[str, str]) -> Student:
        return Student(
            name, cls, _notebook("blank", gated(probes)), "accomplice", SANITY, tuple(probes)
        )

    return [
        honest("00-honest-a", "stopped-zygote"),
        honest("01-honest-b", "stopped-zygote"),
        Student(
            "02-control",
            "control",
            _notebook("blank", gated(control_probes(tok), control_attack)),
            "control",
            FULL,
            tuple(control_probes(tok)),
        ),
        Student("10-persist-attack", "files", _notebook("ref", [persist]), "attacker", FULL),
        accomplice("11-persist-probe", "files", persist_probes(tok)),
        Student("12-persist-import", "files", _notebook("blank", [imported]), "accomplice", SANITY),
        honest("13-honest-after-persist", "files"),
        Student(
            "20-daemon-attack",
            "processes",
            _notebook("ref", [daemon_attack(tok)]),
            "attacker",
            FULL,
        ),
        accomplice("21-daemon-probe", "processes", daemon_probes(tok)),
        Student("30-ipc-attack", "ipc", _notebook("ref", [ipc_attack(tok)]), "attacker", FULL),
        accomplice("31-ipc-probe", "ipc", ipc_probes(tok)),
        Student(
            "40-impersonate", "control-channel", _notebook("ref", [IMPERSONATE]), "attacker", FULL
        ),
        honest("41-honest-after-impersonate", "control-channel"),
        Student(
            "50-badout-nested",
            "bad-output",
            _notebook("ref", lambda ref: [late(ref, BAD_NESTED)]),
            "attacker",
            None,
        ),
        Student(
            "51-badout-numbers",
            "bad-output",
            _notebook("ref", lambda ref: [late(ref, BAD_NUMBERS)]),
            "attacker",
            None,
        ),
        Student(
            "52-badout-npy",
            "bad-output",
            _notebook("ref", lambda ref: [late(ref, BAD_NPY)]),
            "attacker",
            None,
        ),
        Student("53-badout-notebook", "bad-output", _raw(deep_notebook()), "attacker", 0.0),
        Student(
            "60-swap-symlinks",
            "swapped-folder",
            _notebook("ref", lambda ref: [late(ref, swap_attack(setting.canary))]),
            "attacker",
            None,
        ),
        Student(
            "61-swap-delete",
            "swapped-folder",
            _notebook("ref", lambda ref: [late(ref, DELETE_OUT)]),
            "attacker",
            None,
        ),
        Student(
            "70-storage-fill",
            "storage",
            _notebook("blank", gated(storage_fill(setting.storage_mb))),
            "attacker",
            SANITY + 2.0,
        ),
        honest("99-honest-z", "all"),
    ]


def canary_dir(path: Path) -> Path:
    """Lay out the host directory the swap attack points at: a FIFO per output file (a reader
    that follows the symlink blocks on it, or is seen opening it) and regular files whose
    access time shows a read (atime set before mtime, so relatime updates it)."""
    import os

    path.mkdir(parents=True, exist_ok=True)
    for name in ("tests.jsonl", "cells.jsonl", "runtime_error.txt"):
        os.mkfifo(path / name)
    (path / "values").mkdir()
    record = {
        "test": "test_tensors.py::test_filled",
        "values": [{"name": "x", "kind": "int", "file": "v00001.npy"}],
    }
    (path / "values" / "v00001.npy").write_bytes(b"\x93NUMPY\x01\x00" + json.dumps(record).encode())
    (path / "values" / "v00002.npy").write_text(json.dumps(record))
    for p in (path / "values").iterdir():
        os.utime(p, (946684800, os.stat(p).st_mtime))
    return path
