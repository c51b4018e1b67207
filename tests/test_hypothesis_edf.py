"""Property: any mutation of a valid EDF ends in a correct read or an IeegreconError, never another exception.

Mutated inputs: a small EDF+ written here by ``write_edf``, and copies of the
real ``MB0400FU.EDF`` (EDF+D) and ``chtypes_edf.edf``. Mutations: header
fields overwritten with arbitrary ASCII, random bytes flipped in the header,
truncation, labels replaced (duplicates included), bytes appended. Readers:
``read_recording`` and ``ieegrecon info`` (typer's CliRunner).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ieegrecon.cli import app
from ieegrecon.io.edf_header import signal_field_spans
from ieegrecon.errors import IeegreconError
from ieegrecon.io.edf import write_edf
from ieegrecon.io.read import read_recording
from ieegrecon.recording import Recording

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scalp_eeg"
SETTINGS = settings(max_examples=int(os.environ.get("IEEGRECON_HYPOTHESIS_EXAMPLES", 60)), deadline=None,
                    database=None, suppress_health_check=[HealthCheck.too_slow])
runner = CliRunner()


def _small_edf() -> bytes:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "ok.edf"
        write_edf(f, rng.normal(0, 20e-6, (3, 400)), 200.0, ["Fp1", "Cz", "mAHL1"])
        return f.read_bytes()


SMALL = _small_edf()
REAL = {name: (DATA / name).read_bytes() for name in ("MB0400FU.EDF", "chtypes_edf.edf") if (DATA / name).is_file()}

#: (offset, width) of the fixed header fields: version .. number of signals
FIXED_FIELDS = [(0, 8), (168, 8), (176, 8), (184, 8), (192, 44), (236, 8), (244, 8), (252, 4)]
ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=16)
numberish = st.one_of(ascii_text, st.integers(-10**7, 10**7).map(str),
                      st.floats(allow_nan=True, allow_infinity=True).map(lambda v: f"{v:.6g}"))


@st.composite
def mutated(draw, base: bytes) -> bytes:
    b = bytearray(base)
    fields = FIXED_FIELDS + signal_field_spans(base)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["field", "flip", "truncate", "label", "append"]))
        if kind == "field":
            off, width = draw(st.sampled_from(fields))
            b[off:off + width] = draw(numberish)[:width].ljust(width).encode("ascii")
        elif kind == "flip":
            hdr = min(len(b), 256 + 256 * int(base[252:256]))
            if hdr:
                pos = draw(st.integers(0, hdr - 1))
                b[pos] = draw(st.integers(0, 255))
        elif kind == "truncate":
            b = b[: draw(st.integers(0, len(b)))]
        elif kind == "label":
            ns = int(base[252:256])
            i, j = draw(st.integers(0, ns - 1)), draw(st.integers(0, ns - 1))
            new = draw(st.one_of(ascii_text, st.just(bytes(b[256 + 16 * j: 256 + 16 * (j + 1)]).decode("latin-1"))))
            if len(b) >= 256 + 16 * (i + 1):
                b[256 + 16 * i: 256 + 16 * (i + 1)] = new[:16].ljust(16).encode("latin-1")
        else:
            b += bytes(draw(st.lists(st.integers(0, 255), max_size=3000)))
    return bytes(b)


def check_reader(content: bytes, name: str) -> None:
    """read_recording and `ieegrecon info` each end in a correct read or an IeegreconError."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / name
        f.write_bytes(content)
        try:
            rec = read_recording(f)
        except IeegreconError as err:
            assert str(err).startswith(f"{f}: ") and "\n" not in str(err)
            ok = False
        else:
            assert isinstance(rec, Recording)
            assert rec.data.shape == (len(rec.ch_names), rec.n_times) and rec.n_times > 0 and rec.sfreq > 0
            assert len(set(rec.ch_names)) == len(rec.ch_names)
            ok = True
        res = runner.invoke(app, ["info", str(f)], catch_exceptions=False)
        assert res.exit_code == (0 if ok else 3), res.stderr
        assert "internal error" not in res.stderr and "Traceback" not in res.stderr


@SETTINGS
@given(data=st.data())
def test_mutated_small_edf(data):
    check_reader(data.draw(mutated(SMALL)), "small.edf")


@pytest.mark.skipif(not REAL, reason="real scalp EDFs not found in ../shared/data/scalp_eeg")
@SETTINGS
@given(data=st.data())
def test_mutated_real_edfs(data):
    name = data.draw(st.sampled_from(sorted(REAL)))
    check_reader(data.draw(mutated(REAL[name])), name)


def test_unmutated_inputs_read():
    """The property's baseline: the unmutated files read (so 'correct read' is reachable)."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "small.edf"
        f.write_bytes(SMALL)
        rec = read_recording(f)
    assert rec.ch_names == ["Fp1", "Cz", "mAHL1"] and rec.n_times == 400
