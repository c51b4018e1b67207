"""Fuzz every input ieegrecon reads: wrong input must end in an exit-coded error, never an internal one.

Mutations (random, seeded) of small valid inputs built here:

- EDF and BDF headers: fixed and per-signal fields overwritten (text, numbers,
  NaN/Inf, non-ASCII, control characters), random header bytes, the version
  byte swapped (EDF <-> BDF content), truncation, appended bytes, the file
  renamed to the other extension;
- a small BIDS session (the example layout, 3 s of signals): ``*_eeg.json``,
  ``*_ieeg.json``, ``coordsystem.json`` (whole value or one field replaced by
  any JSON value, broken JSON, byte-order mark), ``channels.tsv`` and
  ``electrodes.tsv`` (cells, rows, columns, ``status=bad``);
- a ridge patient model: ``config.json`` (any key, nested keys included, set
  to any JSON value or deleted; whole value replaced; broken JSON) and the
  ``model.safetensors`` header (length prefix, JSON, dtype/shape/offsets,
  truncation).

Each mutated input goes through the entry point the CLI uses
(``read_recording``, ``read_bids_session``, ``read_electrodes``,
``load_model``) in process, and every ``cli_every``-th one also through the
CLI (typer's CliRunner: ``info``, ``map``, ``reconstruct``). Outcomes:
success, an :class:`~ieegrecon.errors.IeegreconError` (by exit code), or any
other exception / exit 1 (an internal error). Warnings are errors, as in the
test suite. The sha256 of every input file is checked after each call.

Usage::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/fuzz_inputs.py --n 10000 --cli-every 25 --seed 0

prints the counts and ``fuzz: N mutations, 0 internal errors, 0 tracebacks,
inputs unchanged (sha256)``; exits 1 when an internal error, a traceback or a
changed input was seen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from ieegrecon.io.edf_header import signal_field_spans

ROOT = Path(__file__).resolve().parents[1]
SESSION = ROOT / "examples" / "calibration" / "sub-01" / "ses-01"

# --------------------------------------------------------------------------- valid inputs


def _write_bdf(path: Path, x: np.ndarray, sfreq: float, names: list[str]) -> None:
    import pyedflib

    w = pyedflib.EdfWriter(str(path), len(names), file_type=pyedflib.FILETYPE_BDFPLUS)
    w.setSignalHeaders([dict(label=n, dimension="uV", sample_frequency=sfreq, physical_min=-500.0,
                             physical_max=500.0, digital_min=-8388608, digital_max=8388607) for n in names])
    w.writeSamples([xi * 1e6 for xi in x])
    w.close()


def build_inputs(work: Path) -> dict[str, Path]:
    """Small valid inputs under ``work``: an EDF, a BDF, a BIDS session, a ridge patient model."""
    import pandas as pd

    from ieegrecon.io.edf import write_edf
    from ieegrecon.models.base import ContactInfo, PairedSegment, get_model_class
    from ieegrecon.models.io import save_model
    from ieegrecon.preprocessing import Preprocessing

    rng = np.random.default_rng(0)
    work.mkdir(parents=True, exist_ok=True)
    edf = work / "small.edf"
    write_edf(edf, rng.normal(0, 20e-6, (3, 600)), 200.0, ["Fp1", "Cz", "mAHL1"])
    bdf = work / "small.bdf"
    _write_bdf(bdf, rng.normal(0, 20e-6, (3, 600)), 200.0, ["Fp1", "Cz", "O1"])
    ses = work / "bids" / "sub-01" / "ses-01"
    shutil.copytree(SESSION, ses, ignore=shutil.ignore_patterns("*.edf"))
    names = {k: list(pd.read_csv(next((ses / k).glob("*_channels.tsv")), sep="\t")["name"]) for k in ("eeg", "ieeg")}
    n = 600
    write_edf(next((ses / "eeg").glob("*_channels.tsv")).with_name("sub-01_ses-01_task-sim_run-01_eeg.edf"),
              rng.normal(0, 20e-6, (len(names["eeg"]), n)), 200.0, names["eeg"])
    write_edf(next((ses / "ieeg").glob("*_channels.tsv")).with_name("sub-01_ses-01_task-sim_run-01_ieeg.edf"),
              rng.normal(0, 50e-6, (len(names["ieeg"]), n)), 200.0, names["ieeg"])
    # a ridge patient model on 30 s of random linear data (the session's scalp names, 4 contacts)
    k, n_t = 4, 6000
    scalp_names = [normalize(c) for c in names["eeg"]]
    x = rng.normal(0, 20e-6, (len(scalp_names), n_t))
    y = rng.normal(size=(k, len(scalp_names))) @ x + rng.normal(0, 5e-6, (k, n_t))
    contacts = ContactInfo(names["ieeg"][:k], rng.normal(0, 0.03, (k, 3)))
    model = get_model_class("ridge")(sfreq=200.0, max_lag_ms=20.0, alphas=[1e-2, 1.0])
    model.scalp_names, model.contacts = scalp_names, contacts
    model.calibrate(PairedSegment(x, y, 200.0, scalp_names, contacts))
    extra = {"preprocessing": Preprocessing().to_dict(),
             "physical_range_uv": {c: [-500.0, 500.0] for c in contacts.ch_names},
             "heldout_r": {c: 0.5 for c in contacts.ch_names}, "evaluation": "fuzz", "simulated_data": True}
    model_dir = save_model(model, work / "model", extra=extra)
    return {"edf": edf, "bdf": bdf, "session": ses, "model": model_dir,
            "scalp": next((ses / "eeg").glob("*_eeg.edf"))}


def normalize(name: str) -> str:
    from ieegrecon.channels import normalize_ch_name

    return normalize_ch_name(name)


# --------------------------------------------------------------------------- random values

_TEXT = ["", " ", "0", "-1", "1", "3", "200", "99999999", "-99999999", "1e308", "-1e308", "nan", "inf", "-inf",
         "1.5", "0.0001", "abc", "12a", "+", "-", ".", "1,5", "1_000", "\x00", "\x7f", "\xff", "é", "T3", "Cz",
         "EDF Annotations", "BDF Annotations", "n/a", "N/A", "MNI", "mm", "m", "bad", "good", "\ufeff"]


def rand_text(r: random.Random, width: int) -> str:
    c = r.random()
    if c < 0.5:
        return r.choice(_TEXT)
    if c < 0.7:
        return str(r.randint(-10 ** min(width, 12), 10 ** min(width, 12)))
    if c < 0.85:
        return f"{r.uniform(-1e6, 1e6):.{r.randint(0, 6)}g}"
    return "".join(chr(r.choice([r.randint(32, 126), r.randint(0, 255)])) for _ in range(r.randint(0, width)))


def rand_json(r: random.Random, depth: int = 0):
    c = r.randrange(14 if depth < 2 else 11)
    return [None, True, False, 0, -1, 7, 200.0, 1e308, -0.5, float("nan"), float("inf"),
            rand_text(r, 12), "MNI152NLin2009aSym", [], {},
            ][c] if c < 11 else ([rand_json(r, depth + 1) for _ in range(r.randint(0, 3))] if c == 11 else
                                 {rand_text(r, 6): rand_json(r, depth + 1) for _ in range(r.randint(0, 3))}
                                 if c == 12 else "x" * r.randint(0, 300))


# --------------------------------------------------------------------------- mutations


FIXED = [(0, 8), (8, 80), (88, 80), (168, 8), (176, 8), (184, 8), (192, 44), (236, 8), (244, 8), (252, 4)]


def mutate_edf(r: random.Random, base: bytes) -> tuple[bytes, str]:
    """Mutated EDF/BDF bytes and a note; the note says 'rename' when the extension should flip."""
    b = bytearray(base)
    notes = []
    for _ in range(r.randint(1, 3)):
        kind = r.choice(["field", "field", "field", "flip", "version", "truncate", "append", "label", "rename"])
        notes.append(kind)
        if kind == "field":
            off, width = r.choice(FIXED + signal_field_spans(base))
            b[off:off + width] = rand_text(r, width)[:width].ljust(width).encode("latin-1", "replace")[:width]
        elif kind == "flip":
            hdr = min(len(b), 256 * (1 + int(base[252:256])))
            if hdr:
                b[r.randrange(hdr)] = r.randrange(256)
        elif kind == "version":
            b[0:8] = r.choice([b"0       ", b"\xffBIOSEMI", b"\xff       ", b"1       ", b"        "])
        elif kind == "truncate":
            b = b[: r.randint(0, len(b))]
        elif kind == "append":
            b += bytes(r.randrange(256) for _ in range(r.randint(1, 3000)))
        elif kind == "label":
            ns = int(base[252:256])
            i = r.randrange(ns)
            lab = r.choice([rand_text(r, 16), base[256 + 16 * r.randrange(ns):][:16].decode("latin-1"), "C\x00z"])
            if len(b) >= 256 + 16 * (i + 1):
                b[256 + 16 * i: 256 + 16 * (i + 1)] = lab[:16].ljust(16).encode("latin-1", "replace")[:16]
    return bytes(b), "+".join(notes)


def mutate_json(r: random.Random, text: str) -> str:
    c = r.random()
    if c < 0.15:
        return json.dumps(rand_json(r))
    if c < 0.22:
        return text[: r.randint(0, len(text))]
    if c < 0.27:
        return "\ufeff" + text
    try:
        obj = json.loads(text)
    except ValueError:
        return text
    if not isinstance(obj, dict):
        return text
    for _ in range(r.randint(1, 3)):
        node, keys = obj, []
        while isinstance(node, dict) and node and r.random() < 0.6:  # walk into nested objects
            k = r.choice(list(node))
            if not isinstance(node[k], (dict, list)) or r.random() < 0.4:
                break
            keys.append(k)
            node = node[k] if isinstance(node[k], dict) else (node[k][0] if node[k] and isinstance(node[k], list)
                                                              and isinstance(node[k][0], dict) else {})
        if not isinstance(node, dict):
            continue
        if node and r.random() < 0.2:
            del node[r.choice(list(node))]
        else:
            key = r.choice(list(node)) if node and r.random() < 0.85 else rand_text(r, 10)
            node[key] = rand_json(r)
    return json.dumps(obj)


def mutate_tsv(r: random.Random, text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    rows = [ln.split("\t") for ln in lines]
    for _ in range(r.randint(1, 3)):
        if not rows or not rows[0]:
            break
        c = r.random()
        if c < 0.45 and len(rows) > 1:  # one cell
            i = r.randrange(1, len(rows))
            j = r.randrange(len(rows[i])) if rows[i] else 0
            if rows[i]:
                rows[i][j] = rand_text(r, 12).replace("\n", " ")
        elif c < 0.55 and len(rows) > 1:  # a whole column
            j = r.randrange(len(rows[0]))
            v = rand_text(r, 8).replace("\n", " ")
            for row in rows[1:]:
                if j < len(row):
                    row[j] = v
        elif c < 0.62 and len(rows) > 1:
            rows.append(list(r.choice(rows[1:])))  # duplicate a row
        elif c < 0.69 and len(rows) > 1:
            del rows[r.randrange(1, len(rows))]
        elif c < 0.75:
            j = r.randrange(len(rows[0]))
            for row in rows:
                if j < len(row):
                    del row[j]
        elif c < 0.8:
            rows[0][r.randrange(len(rows[0]))] = rand_text(r, 8).replace("\n", " ")
        elif c < 0.85 and len(rows) > 1:  # short row
            i = r.randrange(1, len(rows))
            rows[i] = rows[i][: r.randrange(len(rows[i]) + 1)]
        elif c < 0.92 and "status" in rows[0]:
            j = rows[0].index("status")
            for row in rows[1:]:
                if j < len(row) and r.random() < 0.5:
                    row[j] = "bad"
        else:
            rows = rows[: r.randint(0, len(rows))]
    out = "\n".join("\t".join(row) for row in rows) + "\n"
    return ("\ufeff" + out) if r.random() < 0.05 else out


def mutate_safetensors(r: random.Random, base: bytes) -> bytes:
    n = int.from_bytes(base[:8], "little")
    head = json.loads(base[8:8 + n])
    body = base[8 + n:]
    c = r.random()
    if c < 0.1:
        return base[: r.randint(0, len(base))]
    if c < 0.15:
        return b""
    if c < 0.25:
        return r.randrange(2 ** 64).to_bytes(8, "little") + base[8:]
    if c < 0.35:
        b = bytearray(base)
        b[8 + r.randrange(n)] = r.randrange(256)
        return bytes(b)
    names = [k for k in head if k != "__metadata__"]
    k = r.choice(names)
    field = r.choice(["dtype", "shape", "data_offsets", "whole", "drop", "add"])
    if field == "dtype":
        head[k]["dtype"] = r.choice(["F64", "F32", "F16", "I64", "I32", "I8", "U8", "BOOL", "BF16", "X", 5])
    elif field == "shape":
        head[k]["shape"] = r.choice([[], [0], [1], [-1], [10 ** 9], head[k]["shape"][::-1], ["a"], None,
                                     [s + r.choice([-1, 1]) for s in head[k]["shape"]]])
    elif field == "data_offsets":
        a, z = head[k]["data_offsets"]
        head[k]["data_offsets"] = r.choice([[a, z + 8], [a - 8, z], [z, a], [0, 0], [a, 10 ** 12], None, [a]])
    elif field == "whole":
        head[k] = rand_json(r)
    elif field == "drop":
        del head[k]
    else:
        head[rand_text(r, 6) or "t"] = dict(head[k])
    raw = json.dumps(head).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    return len(raw).to_bytes(8, "little") + raw + body


# --------------------------------------------------------------------------- the run

def _digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for p in paths:
        for f in ([p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())):
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def run(n: int = 10_000, *, cli_every: int = 25, seed: int = 0, workdir: str | Path | None = None,
        verbose: bool = False) -> dict:
    """Run ``n`` mutations; return the outcome counts.

    Returns
    -------
    dict
        ``n``, ``outcomes`` (Counter: 'ok', 'exit 3'..., 'internal'), ``internal``
        (in-process non-ieegrecon exceptions plus CLI exit 1), ``tracebacks`` (CLI
        outputs holding one), ``changed_inputs``, ``cli`` (CLI calls made),
        ``internal_examples`` (up to 10 one-line descriptions), ``seconds``.
    """
    from typer.testing import CliRunner

    from ieegrecon.cli import app
    from ieegrecon.errors import IeegreconError
    from ieegrecon.io.bids import read_bids_session
    from ieegrecon.io.electrodes import read_electrodes
    from ieegrecon.io.read import read_recording
    from ieegrecon.models.io import load_model

    r = random.Random(seed)
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="ieegrecon-fuzz-")) if own else Path(workdir)
    t0 = time.perf_counter()
    try:
        inp = build_inputs(work / "inputs")
        ses, model_dir = inp["session"], inp["model"]
        pristine = {p: p.read_bytes() for p in [inp["edf"], inp["bdf"], model_dir / "config.json",
                                                model_dir / "model.safetensors"]
                    + sorted(q for q in ses.rglob("*") if q.is_file())}
        sidecars = {
            "eeg.json": next((ses / "eeg").glob("*_eeg.json")),
            "ieeg.json": next((ses / "ieeg").glob("*_ieeg.json")),
            "coordsystem": next((ses / "ieeg").glob("*_coordsystem.json")),
            "channels.tsv": next((ses / "eeg").glob("*_channels.tsv")),
            "ieeg channels.tsv": next((ses / "ieeg").glob("*_channels.tsv")),
            "electrodes.tsv": next((ses / "ieeg").glob("*_electrodes.tsv")),
        }
        runner = CliRunner()
        out_dir = work / "out"
        out_dir.mkdir()
        counts: Counter = Counter()
        internal, tracebacks, changed, n_cli = 0, 0, 0, 0
        examples: list[str] = []
        kinds = ["edf"] * 30 + ["bdf"] * 10 + ["eeg.json", "ieeg.json", "coordsystem"] * 4 + \
            ["channels.tsv"] * 6 + ["ieeg channels.tsv"] * 4 + ["electrodes.tsv"] * 10 + ["config"] * 14 + \
            ["safetensors"] * 6
        for i in range(n):
            kind = r.choice(kinds)
            via_cli = cli_every > 0 and i % cli_every == 0
            created: list[Path] = []
            if kind in ("edf", "bdf"):
                data, note = mutate_edf(r, pristine[inp[kind]])
                ext = inp[kind].suffix
                if "rename" in note:
                    ext = ".bdf" if ext == ".edf" else ".edf"
                target = work / "mut" / f"m{i % 7}{ext}"
                target.parent.mkdir(exist_ok=True)
                target.write_bytes(data)
                created.append(target)
                watched = [target]
                call = lambda t=target: read_recording(t)  # noqa: E731
                argv = ["info", str(target)]
            elif kind in sidecars:
                f = sidecars[kind]
                text = pristine[f].decode("utf-8")
                f.write_text(mutate_tsv(r, text) if f.suffix == ".tsv" else mutate_json(r, text), encoding="utf-8")
                note = f.name
                watched = [ses]
                if kind in ("electrodes.tsv", "coordsystem"):
                    el = sidecars["electrodes.tsv"]
                    call = lambda el=el: read_electrodes(el)  # noqa: E731
                    argv = ["map", str(el), "--out", str(out_dir / "regions.tsv"), "--overwrite"]
                else:
                    call = lambda: read_bids_session(ses)  # noqa: E731
                    argv = ["info", str(ses)]
            else:
                f = model_dir / ("config.json" if kind == "config" else "model.safetensors")
                if kind == "config":
                    f.write_text(mutate_json(r, pristine[f].decode("utf-8")) if r.random() < 0.97
                                 else r.choice(["", "{", "[]", "\x00"]), encoding="utf-8")
                else:
                    f.write_bytes(mutate_safetensors(r, pristine[f]))
                note = f.name
                watched = [model_dir, inp["scalp"]]
                call = lambda: load_model(model_dir)  # noqa: E731
                argv = ["reconstruct", str(inp["scalp"]), "--model", str(model_dir), "--out",
                        str(out_dir / "s.edf"), "--overwrite"]
            before = _digest(watched)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    call()
                    counts["ok"] += 1
                except IeegreconError as err:
                    counts[f"exit {err.exit_code}"] += 1
                    if "\n" in str(err):
                        internal += 1
                        examples.append(f"{kind} ({note}): multi-line message {str(err)[:200]!r}")
                except Exception as exc:  # noqa: BLE001 - that is what we count
                    counts["internal"] += 1
                    internal += 1
                    tb = traceback.extract_tb(exc.__traceback__)[-1]
                    examples.append(f"{kind} ({note}): {type(exc).__name__}: {str(exc)[:160]} "
                                    f"[{Path(tb.filename).name}:{tb.lineno}]")
                    if verbose:
                        print("  internal:", examples[-1], file=sys.stderr, flush=True)
                if via_cli:
                    n_cli += 1
                    res = runner.invoke(app, argv, catch_exceptions=True)
                    code = res.exit_code
                    counts[f"cli exit {code}"] += 1
                    text = (res.stdout or "") + (res.stderr or "")
                    if "Traceback" in text:
                        tracebacks += 1
                    if code not in (0, 2, 3, 4, 5, 6):
                        internal += 1
                        exc = res.exception if not isinstance(res.exception, SystemExit) else None
                        examples.append(f"cli {argv[0]} {kind} ({note}): exit {code} "
                                        f"{(res.stderr or '').strip()[:160]!r} {exc!r}"[:300])
                        if verbose:
                            print("  internal:", examples[-1], file=sys.stderr, flush=True)
            if _digest(watched) != before:
                changed += 1
                examples.append(f"{kind} ({note}): an input changed")
            for f in created:
                f.unlink(missing_ok=True)
            for p, b in pristine.items():  # restore the valid inputs
                if p.suffix in (".json", ".tsv", ".safetensors") and p.read_bytes() != b:
                    p.write_bytes(b)
            if verbose and (i + 1) % 500 == 0:
                print(f"  {i + 1}/{n} {dict(counts)} internal={internal}", file=sys.stderr, flush=True)
        return {"n": n, "outcomes": counts, "internal": internal, "tracebacks": tracebacks,
                "changed_inputs": changed, "cli": n_cli, "internal_examples": examples[:10],
                "seconds": time.perf_counter() - t0}
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--cli-every", type=int, default=25, help="every k-th mutation also goes through the CLI")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    res = run(a.n, cli_every=a.cli_every, seed=a.seed, verbose=a.verbose)
    for k, v in sorted(res["outcomes"].items()):
        print(f"{k:>12}: {v}")
    for e in res["internal_examples"]:
        print("  internal:", e)
    print(f"{res['cli']} through the CLI; {res['seconds']:.0f} s")
    same = "inputs unchanged (sha256)" if res["changed_inputs"] == 0 else f"{res['changed_inputs']} inputs CHANGED"
    print(f"fuzz: {res['n']} mutations, {res['internal']} internal errors, {res['tracebacks']} tracebacks, {same}")
    return int(bool(res["internal"] or res["tracebacks"] or res["changed_inputs"]))


if __name__ == "__main__":
    sys.exit(main())
