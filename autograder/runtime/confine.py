"""A job's own sandbox, made inside a warm worker's sandbox without losing the warm import.

The zygote (``zygote.py``) has imported TensorFlow inside one outer bubblewrap sandbox per
worker. For each job it forks a child, and :func:`run_confined` turns that child into a
sandbox of its own, the way Chromium's zygote gives each renderer its own namespaces:

1. ``unshare`` a new user, mount, pid, IPC, network and UTS namespace (the job's uid inside
   is :data:`JOB_UID`; init and the zygote are not mapped there and cannot be seen).
2. Make every mount private, mount one tmpfs of ``storage_mb`` that holds the job's only
   writable places (``/tmp``, the home ``/tmp/home``, ``/dev/shm`` and ``/job/out``), bind
   the job's own ``in/`` read-only at ``/job/in``, and cover the worker's spool (where other
   jobs' folders come and go) with an empty read-only tmpfs. The outer sandbox's root is
   read-only, and the kernel locks those mounts read-only in the job's namespaces.
3. Fork the job: pid 1 of the new pid namespace. It mounts its own ``/proc``, forbids
   further user namespaces, drops every capability and the bounding set, sets
   ``no_new_privs``, keeps only descriptors 0-2 (``/dev/null``) and runs the job.
4. The confining parent (outside the job's pid namespace, not dumpable, running only this
   code) waits for pid 1. When pid 1 ends, the kernel kills every process left in its pid
   namespace, so nothing the job started survives. Only then does the parent copy
   ``/job/out`` into the spool, regular files only, without following links, within limits.

Standard library only: this runs inside the sandbox before any student code.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SIGKILL = 9

#: The job's uid and gid inside its own user namespace.
JOB_UID = 1000
#: Where the job sees its folders.
JOB_ROOT = "/job"
#: Where the worker's spool is mounted in the outer sandbox (covered in every job).
SPOOL = "/spool"


@dataclass(frozen=True)
class CopyLimits:
    """What the confining parent copies back from ``/job/out``.

    Attributes:
        max_bytes: Total bytes of all files copied.
        max_files: Number of files and folders copied.
        max_depth: Folder depth below ``out/``.
    """

    max_bytes: int
    max_files: int = 20_000
    max_depth: int = 10


class ConfineError(OSError):
    """A namespace or mount step failed (the sandbox cannot be built: never run the job)."""


_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise ConfineError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _prctl(option: int, arg: int, what: str) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), what)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_privileges() -> None:
    """Drop the bounding set and every capability, and set ``no_new_privs``."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _prctl(PR_SET_NO_NEW_PRIVS, 1, "no_new_privs")


def _enter_namespaces() -> None:
    """Unshare every namespace and map the job's uid onto the worker's one uid."""
    uid, gid = os.getuid(), os.getgid()
    # A non-dumpable process cannot write its own uid map; dumpable only until it is written.
    _prctl(PR_SET_DUMPABLE, 1, "dumpable")
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS
    _check(_libc.unshare(flags), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{JOB_UID} {uid} 1\n")
    _write("/proc/self/gid_map", f"{JOB_UID} {gid} 1\n")
    _prctl(PR_SET_DUMPABLE, 0, "not dumpable")
    name = b"gradetape-job"
    _check(_libc.sethostname(name, len(name)), "sethostname")


def _python_under_tmp() -> list[str]:
    """The Python installation's folders that live under ``/tmp`` (a venv in a temporary clone).

    The outer sandbox shows the interpreter and the virtual environment at their host paths;
    the job's own tmpfs on ``/tmp`` would hide those under ``/tmp``, and with them every
    module the zygote had not imported yet.
    """
    return sorted({p for p in (sys.prefix, sys.base_prefix) if p.startswith("/tmp/")})


def _build_mounts(job_dir: str, storage_mb: int) -> None:
    """The job's file system: one tmpfs for everything writable, the rest read-only."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    # Held open across the tmpfs mount, then bound back at the same path (still read-only:
    # a bind keeps the outer sandbox's read-only, locked flags).
    kept = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in _python_under_tmp()]
    size = f"size={max(1, storage_mb)}m,nr_inodes=65536,mode=0755,uid={JOB_UID},gid={JOB_UID}"
    _mount("gradetape-job", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size)
    for name in ("home", ".shm", ".out"):
        os.mkdir(f"/tmp/{name}", 0o700 if name == ".out" else 0o755)
    for path, fd in kept:
        os.makedirs(path, 0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    os.chmod("/tmp/.shm", 0o1777)
    _mount("/tmp/.shm", "/dev/shm", None, MS_BIND)
    _mount("/tmp/.out", f"{JOB_ROOT}/out", None, MS_BIND)
    _mount(os.path.join(job_dir, "in"), f"{JOB_ROOT}/in", None, MS_BIND)
    _mount("none", f"{JOB_ROOT}/in", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _mount("gradetape-empty", SPOOL, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")


def _loopback_up() -> None:
    """Bring up ``lo`` in the job's network namespace: its own localhost, nothing beyond."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock.fileno(), siocgifflags, request))[1]
        fcntl.ioctl(sock.fileno(), siocsifflags, struct.pack("16sH14s", b"lo", flags | iff_up, b""))


def _become_job() -> None:
    """In pid 1 of the job's namespace: own /proc, no user namespaces, no privileges."""
    _prctl(PR_SET_PDEATHSIG, SIGKILL, "pdeathsig")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    try:
        _loopback_up()
    except OSError:
        pass  # a job without localhost still runs
    for limit in ("max_user_namespaces", "max_mnt_namespaces"):
        try:
            _write(f"/proc/sys/user/{limit}", "0")
        except OSError as exc:
            if limit == "max_user_namespaces":
                raise ConfineError(exc.errno, f"cannot forbid user namespaces ({exc})") from None
    drop_privileges()
    _prctl(PR_SET_DUMPABLE, 1, "dumpable")  # its own processes may inspect it, nobody else


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 65536


def run_confined(job_dir: str, storage_mb: int, copy: CopyLimits, job: object) -> int:
    """Run ``job()`` (a callable that never returns) in a sandbox of its own; return its status.

    Called in a process forked from the zygote for one job. ``job_dir`` is the job's folder
    in the spool (``in/`` and an empty ``out/``). Returns the job's exit status as
    :func:`os.waitstatus_to_exitcode` gives it; raises :class:`ConfineError` when the
    sandbox could not be built (the job then never ran).
    """
    _prctl(PR_SET_PDEATHSIG, SIGKILL, "pdeathsig")
    out_fd = os.open(os.path.join(job_dir, "out"), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    _enter_namespaces()
    _build_mounts(job_dir, storage_mb)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pid 1 of the job's namespaces
        try:
            _become_job()
            os.write(ready_w, b"1")
            os.closerange(3, _max_fd())  # only 0-2 (/dev/null) stay open
        except BaseException:  # noqa: BLE001 - the parent reports a sandbox failure
            os._exit(70)
        assert callable(job)
        job()
        os._exit(70)
    os.close(ready_w)
    set_up = os.read(ready_r, 1) == b"1"
    os.close(ready_r)
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    if not set_up:
        raise ConfineError(0, "the job's namespaces could not be set up")
    copy_out(f"{JOB_ROOT}/out", out_fd, copy)
    os.close(out_fd)
    return code


def copy_out(source: str, target_fd: int, limits: CopyLimits) -> None:
    """Copy the job's output tree into ``target_fd``: regular files and folders only.

    Nothing here follows a symbolic link; special files, links and whatever exceeds the
    limits are skipped (the trusted reader then reports what is missing).
    """
    budget = [limits.max_bytes, limits.max_files]
    try:
        src = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        _copy_tree(src, target_fd, 0, limits, budget)
    finally:
        os.close(src)


def _copy_tree(src: int, dst: int, depth: int, limits: CopyLimits, budget: list[int]) -> None:
    try:
        names = sorted(os.listdir(src))
    except OSError:
        return
    for name in names:
        if budget[1] <= 0:
            return
        budget[1] -= 1
        try:
            info = os.stat(name, dir_fd=src, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and depth < limits.max_depth:
            try:
                os.mkdir(name, 0o755, dir_fd=dst)
                sub_src = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src)
            except OSError:
                continue
            try:
                sub_dst = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dst)
            except OSError:
                os.close(sub_src)
                continue
            try:
                _copy_tree(sub_src, sub_dst, depth + 1, limits, budget)
            finally:
                os.close(sub_src)
                os.close(sub_dst)
        elif stat.S_ISREG(info.st_mode) and info.st_size <= budget[0]:
            _copy_file(name, src, dst, budget)


def _copy_file(name: str, src: int, dst: int, budget: list[int]) -> None:
    try:
        fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=src)
    except OSError:
        return
    try:
        if not stat.S_ISREG(os.fstat(fin).st_mode):
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fout = os.open(name, flags, 0o644, dir_fd=dst)
        try:
            while budget[0] > 0:
                chunk = os.read(fin, min(1 << 20, budget[0] + 1))
                if not chunk:
                    break
                if len(chunk) > budget[0]:
                    budget[0] = -1  # over the budget: the file stays truncated
                    break
                os.write(fout, chunk)
                budget[0] -= len(chunk)
        finally:
            os.close(fout)
    except OSError:
        pass
    finally:
        os.close(fin)
