"""Atomic output: write beside the target under a temporary name, then publish it.

An interrupted run therefore leaves either the old output or the new one,
never a partial output, and two runs writing the same new path cannot both
succeed:

- a file whose target did not exist when writing began (or written with
  ``overwrite=False``) is published with a no-clobber hard link
  (:func:`os.link` fails if someone else created the target meanwhile:
  :class:`~ieegrecon.errors.OutputError`); with ``overwrite=True`` (and the
  target already there) it replaces the target with :func:`os.replace`;
- a folder is published under a short lock file next to it
  (``.NAME.ieegrecon-lock``), rechecking the target inside the lock.

Temporary names carry the writer's pid, ``.NAME.ieegrecon-PID-RAND.tmp``;
when writing into a folder starts, leftovers of processes that are no longer
alive (a ``kill -9``, a power cut) are removed. Full disks, read-only file
systems and permission errors become one-line :class:`OutputError`\\ s.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import signal
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import OVERWRITE_HINT, OutputError

#: ieegrecon's own temporary names: ``.NAME.ieegrecon-HOST-PID-RAND.tmp`` (files and folders).
TMP_PATTERN = re.compile(r"^\..*\.ieegrecon-(?:([A-Za-z0-9-]+)-)?(\d+)-[0-9a-f]+\.tmp$")
#: This machine's name as it goes into temporary names: processes of other hosts sharing a folder
#: (cluster jobs on a network file system) are never judged by this host's pid table.
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"
#: Lock files of folder publication: ``.NAME.ieegrecon-lock`` (holds the pid).
LOCK_SUFFIX = ".ieegrecon-lock"
#: How long to wait for another live process's folder lock, in seconds.
LOCK_WAIT_S = 30.0
_OS_MESSAGES = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def current_umask() -> int:
    """The process umask (read without changing it for longer than a call)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def temp_name(target: str | Path) -> Path:
    """A fresh temporary path beside ``target``: ``.NAME.ieegrecon-HOST-PID-RAND.tmp``."""
    target = Path(target)
    return target.with_name(f".{target.name}.ieegrecon-{HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 probe)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT back while the block runs, then deliver them to the usual handlers.

    Python runs signal handlers in the main thread whichever thread the OS
    chose, so the handlers themselves are swapped for a recorder (blocking
    the signal in one thread would not do: BLAS and torch threads exist).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    sigs = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove ieegrecon temporaries (and locks) in ``folder`` left by processes no longer alive.

    Only names of ieegrecon's own pattern are touched (``TMP_PATTERN``,
    ``*.ieegrecon-lock``); the current process's are kept.

    Returns
    -------
    list of Path
        What was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = TMP_PATTERN.match(e.name)
        if m:
            if m.group(1) != HOST:  # another machine's (or an older unnamed) temporary: not ours to judge
                continue
            pid = int(m.group(2))
        elif e.name.startswith(".") and e.name.endswith(LOCK_SUFFIX):
            pid = _lock_pid(Path(e.path))
            if not pid and _age_s(e) < LOCK_WAIT_S:  # just created, its pid not yet written
                continue
        else:
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue
        p = Path(e.path)
        try:
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def _age_s(entry: os.DirEntry) -> float:
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def os_error_message(exc: OSError) -> str | None:
    """One line for the OSErrors a user can cause while writing (full disk, read-only...), else None."""
    return _OS_MESSAGES.get(exc.errno) if exc.errno is not None else None


@contextmanager
def output_errors(path: str | Path) -> Iterator[None]:
    """Turn a full disk, read-only file system or denied permission into a one-line OutputError."""
    try:
        yield
    except OSError as exc:
        msg = os_error_message(exc)
        if msg is None:
            raise
        raise OutputError(f"cannot write: {msg}", path) from None


def publish_file(tmp: str | Path, target: str | Path, *, overwrite: bool) -> None:
    """Move the finished ``tmp`` to ``target``.

    ``overwrite=True``: :func:`os.replace`. ``overwrite=False``: a no-clobber
    publication (hard link then unlink; where hard links are unsupported,
    an exclusive ``O_EXCL`` create then replace) that fails if ``target``
    exists, even if another process created it a moment ago.

    Raises
    ------
    OutputError
        ``target`` exists and ``overwrite`` is False.
    """
    tmp, target = Path(tmp), Path(target)
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputError("exists (another process wrote it while this one was running); "
                          "nothing was replaced", target) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK,
                             errno.ENOSYS):
            raise
        try:  # no hard links here (FAT, some network file systems): claim the name exclusively
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            raise OutputError("exists (another process wrote it while this one was running); "
                              "nothing was replaced", target) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def finish_file(tmp: str | Path, target: str | Path, *, overwrite: bool) -> None:
    """Fsync a finished temporary file, give it the usual permissions (0666 less the umask), publish it.

    Raises
    ------
    OutputError
        As :func:`publish_file`.
    """
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o666 & ~current_umask())
    publish_file(tmp, target, overwrite=overwrite)


@contextmanager
def atomic_path(target: str | Path, *, overwrite: bool | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success it is published as ``target``.

    The temporary file is fsynced and given the usual permissions (0666 less
    the umask) before it is published (see :func:`publish_file`); on any
    exception, including KeyboardInterrupt and ieegrecon's SIGTERM, it is
    removed and ``target`` is left untouched.

    Parameters
    ----------
    target : path-like
        Final path; its folder must exist.
    overwrite : bool | None
        ``True``: replace an existing target. ``False``: never replace (no-clobber).
        ``None`` (default): replace if ``target`` existed when writing began
        (the caller checked that it may), otherwise claim it no-clobber, so
        that two runs writing one new path cannot both succeed.

    Raises
    ------
    OutputError
        ``target`` appeared meanwhile (no-clobber); no space, read-only or
        permission denied while writing.
    """
    target = Path(target)
    if overwrite is None:
        overwrite = os.path.lexists(target)
    clean_stale_temps(target.parent)
    tmp = temp_name(target)
    with output_errors(target):
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        with output_errors(target):
            yield tmp
            finish_file(tmp, target, overwrite=overwrite)
    finally:
        if os.path.lexists(tmp):
            tmp.unlink()


def write_text_atomic(target: str | Path, text: str, *, overwrite: bool | None = None) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(obj: Any, target: str | Path, *, overwrite: bool | None = None) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically (NaN refused)."""
    write_text_atomic(target, json.dumps(obj, indent=2, default=str, allow_nan=False), overwrite=overwrite)


# --------------------------------------------------------------------------- folders
def _lock_pid(lock: Path) -> int:
    try:
        return int(lock.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _remove_stale_lock(lock: Path, dead_pid: int) -> None:
    """Remove ``lock`` if it still belongs to ``dead_pid``; never another process's fresh lock.

    Two waiters may both find the same dead pid: the lock is first renamed to
    a private name (atomic: one rename wins), then judged; a lock that turns
    out to be a live process's (taken meanwhile) is put back, no-clobber.
    """
    grave = lock.with_name(f"{lock.name}.stale-{HOST}-{os.getpid()}")
    try:
        os.rename(lock, grave)
    except FileNotFoundError:  # another waiter removed it first
        return
    if _lock_pid(grave) != dead_pid:  # not the dead one's: give it back to its live owner
        try:
            os.link(grave, lock)
        except FileExistsError:
            pass
    grave.unlink(missing_ok=True)


@contextmanager
def folder_lock(target: str | Path, *, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold ``.NAME.ieegrecon-lock`` beside ``target`` (exclusive create; stale locks of dead pids removed).

    Raises
    ------
    OutputError
        Another live process held the lock for more than ``wait_s`` seconds.
    """
    target = Path(target)
    lock = target.with_name(f".{target.name}{LOCK_SUFFIX}")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with output_errors(target):
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            pid = _lock_pid(lock)
            if pid and not pid_alive(pid):
                _remove_stale_lock(lock, pid)
                continue
            if time.monotonic() > deadline:
                raise OutputError(f"another ieegrecon process (pid {pid}) is writing here", target) from None
            time.sleep(0.05)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: str | Path, *, overwrite: bool,
               check: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target`` as a whole.

    Publication happens under :func:`folder_lock`: ``target`` is rechecked
    there (absent or an empty folder: renamed into place; otherwise only
    with ``overwrite``, after ``check(target)`` passes, the old folder is
    moved aside, the new one renamed in, the old one deleted). On any
    exception the temporary folder is removed and ``target`` is untouched.

    Parameters
    ----------
    target : path-like
        Final folder; its parent is created if needed.
    overwrite : bool
        Allow replacing an existing non-empty ``target``.
    check : callable | None
        Called on an existing ``target`` before it is replaced; raises
        :class:`OutputError` if it must not be (e.g. not ieegrecon's).

    Raises
    ------
    OutputError
    """
    target = Path(target)
    with output_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(target.parent)
    tmp = temp_name(target)
    with output_errors(target):
        tmp.mkdir(mode=0o777)
    try:
        with output_errors(target):
            yield tmp
            with folder_lock(target):
                if target.is_dir() and not any(target.iterdir()):
                    target.rmdir()
                if os.path.lexists(target):
                    if not overwrite:
                        raise OutputError(f"already exists; {OVERWRITE_HINT}", target)
                    if check is not None:
                        check(target)
                    # not of TMP_PATTERN: a run killed between the two renames leaves the old model under
                    # this name for a person to restore, never for the stale-temp cleaner to delete
                    old = target.with_name(f".{target.name}.ieegrecon-old-{os.getpid()}")
                    with _signals_deferred():  # SIGTERM/SIGINT wait until the swap is done
                        os.rename(target, old)
                        os.rename(tmp, target)
                        shutil.rmtree(old, ignore_errors=True)
                else:
                    os.rename(tmp, target)
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
