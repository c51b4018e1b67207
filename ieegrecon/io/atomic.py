"""Atomic file output: write to a temporary file beside the target, fsync, rename.

An interrupted run therefore leaves either the old file or the new one,
never a partial output.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def current_umask() -> int:
    """The process umask (read without changing it for longer than a call)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success it replaces ``target``.

    The temporary file is fsynced and given the usual permissions (0666 less
    the umask) before :func:`os.replace`; on any exception it is removed and
    ``target`` is left untouched.

    Parameters
    ----------
    target : path-like
        Final path; its folder must exist.
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(target: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(obj: Any, target: str | Path) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically (NaN refused)."""
    write_text_atomic(target, json.dumps(obj, indent=2, default=str, allow_nan=False))
