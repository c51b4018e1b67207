"""Validators shared by every command: option values and the output policy.

Modelled on MNE's ``mne/utils/check.py``: small functions that raise one
:mod:`ieegrecon.errors` class with one line naming the parameter or path.

Message convention (issue #15): library code never names a command-line flag.
A message names the Python parameter in MNE's wording, ``the 'line_freq'
parameter`` (matched by :data:`PARAMETER_WORDING`); the CLI
(:mod:`ieegrecon.cli.app`) rewrites it into the running command's flag
(``--line-freq``), so command-line users still read flags.

The output policy (:func:`check_out_path`, documented in docs/cli.md,
"Output policy"):

1. Paths are compared after resolving symlinks. An output that is an input,
   a folder that contains an input, or a path inside an input folder is
   refused (:class:`OutputError`, exit 5), with or without ``overwrite``.
2. An existing output is refused without ``overwrite``. With it, only what
   ieegrecon itself wrote is replaced, and only by the same kind of output:
   a model folder (its ``config.json``), an EDF whose header recording field
   says ``ieegrecon``/``SURROGATE``/``SIMULATED``, an HDF5 file with
   ieegrecon attrs, a ``regions.tsv``/``.json`` from ``map``, a report, a
   simulated dataset. A folder ieegrecon did not create is never deleted.
3. A report is never written into a model folder, a model never into a
   report folder.
4. The output folder must be writable and have room for the output
   (:func:`check_writable`), checked before any computation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import OVERWRITE_HINT, OutputError, UsageError

#: How a message names a function parameter: ``the 'line_freq' parameter`` (group 1: the name).
PARAMETER_WORDING = re.compile(r"the '([A-Za-z_][A-Za-z0-9_]*)' parameter")
#: Written into ieegrecon's own JSON manifests (model ``config.json``): ``{"name": "ieegrecon", "kind": ...}``.
MARKER_KEY = "written_by"
#: Kinds of output :func:`check_out_path` knows (folders first).
FOLDER_KINDS = ("model", "report", "dataset")
FILE_KINDS = ("edf", "hdf5", "regions", "json", "bold")
#: Files a report folder holds.
REPORT_FILES = ("report.json", "regions.tsv", "report.html")
#: Free space kept in reserve beyond the estimated output size, in bytes.
SPACE_MARGIN = 16 * 1024 * 1024


def parameter(name: str) -> str:
    """How a message names the parameter ``name``: ``the 'name' parameter`` (see :data:`PARAMETER_WORDING`)."""
    return f"the {name!r} parameter"


def check_option(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise UsageError naming ``name``.

    Parameters
    ----------
    name : str
        The parameter's name, as the function spells it (``'line_freq'``).
    value : object
        What was given.
    allowed : sequence
        The values accepted.

    Raises
    ------
    UsageError
        ``Invalid value for the 'method' parameter: allowed values are 'a', 'b', but got 'x' instead.``
    """
    if value in allowed:
        return value
    options = ", ".join(repr(a) for a in allowed)
    raise UsageError(f"Invalid value for {parameter(name)}: allowed values are {options}, "
                     f"but got {value!r} instead.")


def check_range(name: str, value: float, *, low: float | None = None, high: float | None = None,
                low_inclusive: bool = True, high_inclusive: bool = True,
                path: str | Path | None = None) -> float:
    """Return ``value`` if it lies in the range, else raise UsageError naming ``name``.

    Parameters
    ----------
    name : str
        The parameter's name (``'minutes'``).
    value : float
        What was given (NaN is always refused).
    low, high : float | None
        Bounds; ``None`` leaves that side open.
    low_inclusive, high_inclusive : bool
        Whether a bound itself is allowed (``>=``/``<=``) or not (``>``/``<``).
    path : path-like | None
        The file the value belongs to, if any (prefixes the message).

    Raises
    ------
    UsageError
        ``Invalid value for the 'minutes' parameter: must be >= 0, but got -1.0 instead.``
    """
    ok = value == value  # NaN fails every comparison
    bounds = []
    if low is not None:
        ok = ok and (value >= low if low_inclusive else value > low)
        bounds.append(f"{'>=' if low_inclusive else '>'} {low:g}")
    if high is not None:
        ok = ok and (value <= high if high_inclusive else value < high)
        bounds.append(f"{'<=' if high_inclusive else '<'} {high:g}")
    if ok:
        return value
    raise UsageError(f"Invalid value for {parameter(name)}: must be {' and '.join(bounds)}, "
                     f"but got {value!r} instead.", path)


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` if it is > 0 (``>= 0`` with ``allow_zero``), else raise UsageError naming ``name``.

    Raises
    ------
    UsageError
        ``Invalid value for the 'tr' parameter: must be > 0, but got -1.0 instead.``
    """
    return check_range(name, value, low=0.0, low_inclusive=allow_zero)


def marker(kind: str) -> dict[str, str]:
    """The manifest entry that marks a folder as ieegrecon's own: ``{"name": "ieegrecon", "kind": kind}``."""
    return {"name": "ieegrecon", "kind": kind}


# --------------------------------------------------------------------------- what ieegrecon wrote
def _json_obj(path: Path) -> dict | None:
    try:
        if path.is_file() and path.stat().st_size < 50_000_000:
            obj = json.loads(path.read_text(encoding="utf-8"))
            return obj if isinstance(obj, dict) else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return None


def _ours(obj: dict | None) -> bool:
    if not obj:
        return False
    mark = obj.get(MARKER_KEY)
    return (isinstance(mark, dict) and mark.get("name") == "ieegrecon") or "ieegrecon_version" in obj


def is_model_folder(path: str | Path) -> bool:
    """Whether ``path`` is a model folder written by ieegrecon (its ``config.json``)."""
    cfg = _json_obj(Path(path) / "config.json")
    return _ours(cfg) and "format_version" in cfg  # type: ignore[operator]


def is_report_folder(path: str | Path) -> bool:
    """Whether ``path`` holds a reconstruction report written by ieegrecon (its ``report.json``)."""
    rep = _json_obj(Path(path) / "report.json")
    return _ours(rep) and rep.get("surrogate") is True  # type: ignore[union-attr]


def is_dataset_folder(path: str | Path) -> bool:
    """Whether ``path`` is a dataset written by ``ieegrecon simulate`` (its dataset_description.json)."""
    desc = _json_obj(Path(path) / "dataset_description.json") or {}
    return any(isinstance(g, dict) and g.get("Name") == "ieegrecon" for g in desc.get("GeneratedBy") or [])


def _edf_ours(path: Path) -> bool:
    from .io.edf import recording_field

    return any(w in recording_field(path) for w in ("ieegrecon", "SURROGATE", "SIMULATED"))


def _hdf5_ours(path: Path) -> bool:
    try:
        import h5py

        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
    except Exception:  # noqa: BLE001 - not an HDF5 file at all
        return False
    return "ieegrecon_version" in attrs or str(attrs.get("format", "")).startswith("ieegrecon") or \
        "unit" in attrs and "sfreq" in attrs and "format_version" in attrs


def _regions_ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
    except (OSError, UnicodeDecodeError):
        return False
    return "region_key" in header and ("depth_class" in header or "reliability" in header)


def _bold_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    if path.name.endswith(".gz"):
        import gzip
        import zlib

        try:
            head = gzip.GzipFile(fileobj=__import__("io").BytesIO(head)).read(4096)
        except (OSError, EOFError, zlib.error):
            return False
    return b"SURROGATE" in head or b"simulated" in head


def owned_kind(path: str | Path) -> str | None:
    """What ieegrecon wrote at ``path`` (one of :data:`FOLDER_KINDS` / :data:`FILE_KINDS`), or None."""
    p = Path(path)
    if p.is_dir():
        if is_model_folder(p):
            return "model"
        if is_report_folder(p):
            return "report"
        if is_dataset_folder(p):
            return "dataset"
        return None
    if not p.is_file():
        return None
    name = p.name.lower()
    if name.endswith((".edf", ".bdf")):
        return "edf" if _edf_ours(p) else None
    if name.endswith((".h5", ".hdf5")):
        return "hdf5" if _hdf5_ours(p) else None
    if name.endswith(".tsv"):
        return "regions" if _regions_ours(p) else None
    if name.endswith(".json"):
        obj = _json_obj(p)
        return "json" if _ours(obj) or (obj is not None and "depth_rule" in obj) else None
    if name.endswith((".gii", ".nii", ".nii.gz")):
        return "bold" if _bold_ours(p) else None
    return None


def check_own_model(path: str | Path) -> None:
    """Raise OutputError unless ``path`` is a model folder ieegrecon wrote (rechecked before replacing it)."""
    if not is_model_folder(path):
        raise OutputError("exists and is not a model folder ieegrecon wrote; refusing to replace it", path)


# --------------------------------------------------------------------------- the policy
def _resolve(p: str | Path) -> Path:
    return Path(os.path.abspath(Path(p).expanduser())).resolve()


def check_not_input(path: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """Refuse an output that is an input, contains an input, or lies inside an input folder.

    Raises
    ------
    OutputError
    """
    out = _resolve(path)
    for inp in inputs:
        if inp is None:
            continue
        src = _resolve(inp)
        same = out == src
        if not same and out.exists() and src.exists():
            try:
                same = os.path.samefile(out, src)
            except OSError:
                same = False
        if same:
            raise OutputError("is one of the inputs; refusing to write over an input", path)
        if out in src.parents:
            raise OutputError(f"contains the input {inp}; refusing to write there", path)
        if src.is_dir() and src in out.parents:
            raise OutputError(f"is inside the input folder {inp}; refusing to write there", path)


def check_out_path(path: str | Path, *, overwrite: bool, inputs: Iterable[str | Path | None] = (),
                   kind: str, need_bytes: int = 0) -> Path:
    """Apply ieegrecon's output policy to ``path`` before any computation.

    Parameters
    ----------
    path : path-like
        The output (file or folder).
    overwrite : bool
        Replace an existing output (only one ieegrecon wrote, of the same kind).
    inputs : iterable of path-like | None
        Every input of the command (files and folders; ``None`` skipped).
    kind : str
        What will be written: ``'model'``, ``'report'``, ``'dataset'``
        (folders) or ``'edf'``, ``'hdf5'``, ``'regions'``, ``'json'``,
        ``'bold'`` (files).
    need_bytes : int
        Estimated size of the output, checked against the free space.

    Returns
    -------
    Path
        ``path`` (unchanged, not resolved).

    Raises
    ------
    OutputError
        The output is or overlaps an input; exists without ``overwrite``; was
        not written by ieegrecon as this kind; a report into a model folder
        (or the reverse); the folder is not writable or too full.
    """
    check_option("kind", kind, FOLDER_KINDS + FILE_KINDS)
    p = Path(path)
    check_not_input(p, inputs)
    if kind == "report" and is_model_folder(p):
        raise OutputError("is a model folder; refusing to write a report into it (give another report folder)", p)
    if kind == "model" and is_report_folder(p):
        raise OutputError("is a report folder; refusing to write a model into it", p)
    if kind == "report":  # a folder that may hold other files: only the report's own files are replaced
        if p.exists() and not p.is_dir():
            raise OutputError("exists and is not a folder", p)
        there = [n for n in REPORT_FILES if os.path.lexists(p / n)]
        if there and not overwrite:
            raise OutputError(f"holds a report ({there[0]}); {OVERWRITE_HINT}", p)
        if there and not is_report_folder(p):
            raise OutputError(f"holds {there[0]} that is not part of a report ieegrecon wrote; "
                              f"refusing to replace it even with {parameter('overwrite')} set", p)
    elif kind in FOLDER_KINDS:
        if p.is_dir() and not any(p.iterdir()):
            pass  # an empty folder (made for us) is fine
        else:
            _check_existing(p, overwrite, kind)
    else:
        if p.is_dir():
            raise OutputError("is a folder; give a file name", p)
        _check_existing(p, overwrite, kind)
    check_writable(p if kind in FOLDER_KINDS and p.is_dir() else p.parent, need_bytes)
    return p


def _check_existing(p: Path, overwrite: bool, kind: str) -> None:
    if not os.path.lexists(p):
        return
    if not overwrite:
        raise OutputError(f"already exists; {OVERWRITE_HINT}", p)
    if owned_kind(p) != kind:
        what = {"hdf5": "an HDF5 file", "edf": "an EDF", "json": "a JSON sidecar", "bold": "a BOLD file",
                "regions": "a regions table"}.get(kind, f"a {kind} folder")
        raise OutputError(f"exists and is not {what} ieegrecon wrote; refusing to replace it even with "
                          f"{parameter('overwrite')} set", p)


def check_writable(folder: str | Path, need_bytes: int = 0) -> None:
    """Check that ``folder`` (or its nearest existing ancestor) is writable and has room for ``need_bytes``.

    Room means ``need_bytes`` plus :data:`SPACE_MARGIN` free.

    Writes and removes a tiny probe file (``os.access`` alone is not enough
    on read-only mounts and for root).

    Raises
    ------
    OutputError
    """
    from .io.atomic import os_error_message, temp_name

    folder = Path(folder)
    base = folder
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise OutputError("is not a folder", base)
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError("cannot write: permission denied", base)
    probe = temp_name(base / "probe")
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write: {os_error_message(exc) or exc.strerror}", base) from None
    free = shutil.disk_usage(base).free
    if free < need_bytes + SPACE_MARGIN:
        raise OutputError(f"cannot write: not enough free space (about {_mb(need_bytes + SPACE_MARGIN)} "
                          f"needed, {_mb(free)} free)", base)


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def input_bytes(paths: Iterable[str | Path | None]) -> int:
    """Total size in bytes of files and folders (recursively), for output-size estimates."""
    total = 0
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total
