"""EDF+D record gaps (time-keeping TALs) and ``reconstruct --anonymize`` (issues #23, #24).

The EDF+D files are written by hand: an EDF+C from edfio whose reserved field
is patched to ``EDF+D`` and whose annotation-signal bytes are rewritten record
by record (time-keeping TAL ``+start\\x14\\x14\\x00`` first, EDF+ spec 2.2.4).
"""

from __future__ import annotations

import json
from pathlib import Path

import edfio
import numpy as np
import pytest
from typer.testing import CliRunner

from ieegrecon.cli import app
from ieegrecon.errors import InputError
from ieegrecon.io.read import read_recording

SCALP = ["C3", "C4", "O1", "O2"]
runner = CliRunner()


def make_edf_plus(path: Path, *, n_records: int = 20, gap_after: int | None = 5, gap_s: float = 5.0,
                  annotations: tuple[tuple[float, str], ...] = (), sfreq: int = 200, seed: int = 0) -> Path:
    """An EDF+ (EDF+D when ``gap_after`` is set) of 1-s records with scalp channels :data:`SCALP`.

    Records ``gap_after``... start ``gap_s`` later than the previous ones end.
    ``annotations`` are (wall-clock onset s, text), each written into the last
    record starting at or before it (or the first).
    """
    rng = np.random.default_rng(seed)
    n = n_records * sfreq
    sigs = [edfio.EdfSignal(20 * rng.normal(size=n), sfreq, label=lab, physical_dimension="uV",
                            physical_range=(-500, 500)) for lab in SCALP]
    edfio.Edf(sigs, annotations=[edfio.EdfAnnotation(0, None, "x" * 150)]).write(path)  # room for TALs
    b = bytearray(path.read_bytes())
    ns = int(b[252:256])
    spr = [int(b[256 + ns * 216 + 8 * i: 256 + ns * 216 + 8 * (i + 1)]) for i in range(ns)]
    hdr, rec_bytes, a0, size = 256 * (ns + 1), 2 * sum(spr), 2 * sum(spr[:-1]), 2 * spr[-1]
    if gap_after is not None:
        b[192:197] = b"EDF+D"
    starts = [k + (gap_s if gap_after is not None and k >= gap_after else 0.0) for k in range(n_records)]
    for k, start in enumerate(starts):
        block = f"+{start:g}\x14\x14\x00".encode()
        for onset, text in annotations:
            if max([0] + [j for j, s in enumerate(starts) if s <= onset]) == k:
                block += f"+{onset:g}\x14{text}\x14\x00".encode()
        assert len(block) <= size
        at = hdr + k * rec_bytes + a0
        b[at:at + size] = block.ljust(size, b"\x00")
    path.write_bytes(bytes(b))
    return path


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A ridge patient model on SCALP, calibrated from a mixed EDF inside a folder named after a patient."""
    from ieegrecon.io.edf import write_edf
    from ieegrecon.workflow.calibrate import calibrate

    folder = tmp_path_factory.mktemp("cal") / "Doe_John_1961"
    folder.mkdir()
    rng = np.random.default_rng(1)
    n = 40 * 200
    src = np.cumsum(rng.normal(size=(2, n)), axis=1)
    src -= src.mean(axis=1, keepdims=True)
    src /= src.std(axis=1, keepdims=True)
    scalp = rng.normal(size=(4, 2)) @ src * 10e-6 + 2e-6 * rng.normal(size=(4, n))
    ieeg = rng.normal(size=(2, 2)) @ src * 30e-6 + 5e-6 * rng.normal(size=(2, n))
    mixed = folder / "Doe_John_scalp_ieeg.edf"
    write_edf(mixed, np.vstack([scalp, ieeg]), 200.0, SCALP + ["LH1", "LH2"])
    out = tmp_path_factory.mktemp("pm") / "model"
    calibrate(mixed, method="ridge", minutes=0.25, out=out, ieeg_channels="^LH")
    return out, folder


def _reconstruct(model_dir: Path, src: Path, out: Path, *extra: str):
    r = runner.invoke(app, ["reconstruct", str(src), "--model", str(model_dir), "--out", str(out), "--json",
                            *extra], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _edf(path: Path):
    e = edfio.read_edf(path)
    return e, [(a.onset, a.duration, a.text) for a in e.annotations]


def test_read_recording_finds_the_gap_and_puts_annotations_on_the_sample_time_base(tmp_path):
    src = make_edf_plus(tmp_path / "d5.edf", annotations=((12.5, "SEIZURE_ONSET"),))
    rec = read_recording(src)
    assert rec.duration == 20.0 and rec.gaps == [(5.0, 5.0)]
    (ann,) = rec.annotations
    assert ann.description == "SEIZURE_ONSET"
    assert ann.onset == pytest.approx(7.5) and ann.wall == pytest.approx(12.5)  # MNE says 12.5 on the samples
    assert any("1 gap(s)" in q and "5 s" in q for q in rec.quirks)


def test_info_lists_the_gap_and_every_annotation(tmp_path):
    src = make_edf_plus(tmp_path / "d5.edf", annotations=((12.5, "SEIZURE_ONSET"), (7.0, "in the gap")))
    r = runner.invoke(app, ["info", "--json", str(src)])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["gaps"] == [{"onset": 5.0, "duration": 5.0}]
    by_text = {a["description"]: a for a in obj["annotations"]}
    assert by_text["SEIZURE_ONSET"]["onset"] == pytest.approx(7.5)
    assert by_text["in the gap"]["onset"] == 5.0 and by_text["in the gap"]["wall_onset"] == 7.0
    assert sum("gap(s) between data records" in q for q in obj["quirks"]) == 1
    assert any("inside a recording gap" in q for q in obj["quirks"])
    table = runner.invoke(app, ["info", str(src)]).stdout
    assert "SEIZURE_ONSET" in table and "wall clock 12.5 s" in table and "5 s missing at 5 s" in table


def test_600_s_gap_keeps_the_annotation(tmp_path):
    src = make_edf_plus(tmp_path / "d600.edf", gap_s=600.0, annotations=((607.5, "SEIZURE_ONSET"),))
    rec = read_recording(src)
    assert rec.gaps == [(5.0, 600.0)]
    assert [(a.description, a.onset, a.wall) for a in rec.annotations] == [("SEIZURE_ONSET", 7.5, 607.5)]


def test_reconstruct_keeps_wall_clock_time_and_fills_the_gap(small_model, tmp_path):
    model_dir, _ = small_model
    src = make_edf_plus(tmp_path / "d5.edf", annotations=((12.5, "SEIZURE_ONSET"),))
    res = _reconstruct(model_dir, src, tmp_path / "out.edf")
    edf, anns = _edf(tmp_path / "out.edf")
    assert edf.duration == 25.0 and res["outputs"][0]["gaps"] == [[5.0, 5.0]]
    assert ("SEIZURE_ONSET" in [t for *_, t in anns]) and \
        [o for o, _, t in anns if t == "SEIZURE_ONSET"] == [pytest.approx(12.5)]
    gap = [(o, d) for o, d, t in anns if t.startswith("GAP:")]
    assert gap == [(5.0, 5.0)]
    for sig in edf.signals:
        step = (sig.physical_max - sig.physical_min) / (sig.digital_max - sig.digital_min)
        x = sig.data
        assert np.abs(x[1000:2000]).max() <= step  # zero fill, µV
        assert np.abs(x[:1000]).max() > 10 * step and np.abs(x[2000:]).max() > 10 * step


def test_reconstruct_keeps_an_annotation_after_a_600_s_gap(small_model, tmp_path):
    model_dir, _ = small_model
    src = make_edf_plus(tmp_path / "d600.edf", gap_s=600.0, annotations=((607.5, "SEIZURE_ONSET"),))
    _reconstruct(model_dir, src, tmp_path / "out.edf")
    edf, anns = _edf(tmp_path / "out.edf")
    assert edf.duration == 620.0
    assert [o for o, _, t in anns if t == "SEIZURE_ONSET"] == [pytest.approx(607.5)]


def test_gaps_longer_than_a_day_are_refused(small_model, tmp_path):
    from ieegrecon.models.io import load_model
    from ieegrecon.workflow.reconstruct import reconstruct_file

    model, cfg = load_model(small_model[0])
    src = make_edf_plus(tmp_path / "d25h.edf", gap_s=25 * 3600.0)
    with pytest.raises(InputError, match="gaps add up to 25.0 h") as exc:
        reconstruct_file(src, model, cfg, tmp_path / "out.edf")
    assert "\n" not in str(exc.value) and not (tmp_path / "out.edf").exists()


def test_mb0400fu_nihon_kohden_tals(mb0400fu):
    """NK writes '+1.000000\\x14\\x14+1.140000\\x14A1+A2 OFF\\x14' (no NUL after the time-keeping TAL).

    Record 1 starts at 1.0 s, so there is no gap; 'A1+A2 OFF' is at 1.14 s (MNE: 1.0 s).
    """
    rec = read_recording(mb0400fu)
    assert rec.gaps == [] and rec.duration == 29.0
    assert [(a.description, a.onset) for a in rec.annotations] == \
        [("Segment: REC START ALLE EEG", 0.0), ("A1+A2 OFF", pytest.approx(1.14))]
    assert any("not ended by a NUL" in q for q in rec.quirks)


def test_reconstruct_mb0400fu_annotation_at_its_time(small_model, mb0400fu, tmp_path):
    _reconstruct(small_model[0], mb0400fu, tmp_path / "out.edf")
    edf, anns = _edf(tmp_path / "out.edf")
    assert edf.duration == 29.0
    assert [o for o, _, t in anns if t == "A1+A2 OFF"] == [pytest.approx(1.14)]
    assert not [t for *_, t in anns if t.startswith(("GAP", "+"))]


def test_anonymize_strips_free_text_annotations(small_model, tmp_path):
    model_dir, _ = small_model
    texts = ("Pt John Doe DOB 23.07.1961", "MRN-4711-0815 seizure", "SEIZURE_ONSET")
    src = make_edf_plus(tmp_path / "Doe_John.edf", gap_after=None,
                        annotations=tuple(zip((1.5, 3.0, 12.5), texts)))
    res = _reconstruct(model_dir, src, tmp_path / "out.edf", "--anonymize")
    _, anns = _edf(tmp_path / "out.edf")
    got = {round(o, 3): t for o, _, t in anns if not t.startswith("SURROGATE")}
    assert got == {1.5: "ANNOTATION", 3.0: "seizure", 12.5: "SEIZURE_ONSET"}
    blob = (tmp_path / "out.edf").read_bytes() + json.dumps(res).encode()
    for word in (b"John", b"Doe", b"1961", b"4711", b"0815", b"MRN"):
        assert word not in blob
    assert res["outputs"][0]["input"].startswith("sha256:")


def test_anonymize_text_rules():
    from ieegrecon.anonymize import REDACTED, anonymize_text

    assert anonymize_text("Pt John Doe DOB 23.07.1961") == REDACTED
    assert anonymize_text("MRN-4711-0815 seizure") == "seizure"
    assert anonymize_text("eyes Closed, then photic stimulation") == "eyes closed photic stimulation"
    assert anonymize_text("Seizures by Spikey") == REDACTED  # whole words only


def test_model_config_holds_no_calibration_folder(small_model):
    model_dir, folder = small_model
    text = (model_dir / "config.json").read_text()
    assert str(folder) not in text and str(folder.parent) not in text and "Doe_John_1961" not in text
    cal = json.loads(text)["trained_on"]["calibration"]
    assert cal["files"] == ["Doe_John_scalp_ieeg.edf"]
    assert list(cal["file_sha256"]) == ["Doe_John_scalp_ieeg.edf"] and len(cal["sha256"][0]) == 64


def test_streamed_output_keeps_a_2_h_gap(small_model, tmp_path):
    """Outputs longer than STREAM_OVER_S go through the streamed writer: same zero fill and annotations."""
    src = make_edf_plus(tmp_path / "d2h.edf", gap_s=7200.0, annotations=((7207.5, "SEIZURE_ONSET"),))
    res = _reconstruct(small_model[0], src, tmp_path / "out.edf")
    assert any("streamed" in n for n in res["outputs"][0]["notes"])
    edf, anns = _edf(tmp_path / "out.edf")
    assert edf.duration == 7220.0
    assert [o for o, _, t in anns if t == "SEIZURE_ONSET"] == [pytest.approx(7207.5)]
    assert [(o, d) for o, d, t in anns if t.startswith("GAP:")] == [(5.0, 7200.0)]


def test_calibrate_refuses_scalp_and_ieeg_with_different_gaps(tmp_path):
    """Calibration pairs samples by position: a gap in one file only would pair different moments."""
    from ieegrecon.errors import InputError
    from ieegrecon.io.edf import write_edf
    from ieegrecon.workflow.calibrate import calibrate

    scalp = make_edf_plus(tmp_path / "scalp.edf", n_records=30, gap_after=10, gap_s=5.0)
    ieeg = tmp_path / "ieeg.edf"
    write_edf(ieeg, np.random.default_rng(2).normal(size=(2, 30 * 200)) * 30e-6, 200.0, ["LH1", "LH2"])
    with pytest.raises(InputError, match="different recording gaps"):
        calibrate(scalp, ieeg=ieeg, ieeg_channels="^LH", method="ridge", minutes=0.25, out=tmp_path / "pm")
    assert not (tmp_path / "pm").exists()


def test_exact_bands_have_no_width_in_a_gap(small_model, tmp_path):
    """ridge-gauss --samples on an EDF+D: the offsets sidecar names the gap, read back as zero width there."""
    from ieegrecon.workflow.calibrate import calibrate
    from ieegrecon.workflow.uncertainty import read_uncertainty_h5

    _, folder = small_model
    calibrate(folder / "Doe_John_scalp_ieeg.edf", method="ridge-gauss", minutes=0.25, out=tmp_path / "rg",
              ieeg_channels="^LH")
    src = make_edf_plus(tmp_path / "d5.edf")
    _reconstruct(tmp_path / "rg", src, tmp_path / "out.edf", "--samples", "4")
    unc = read_uncertainty_h5(tmp_path / "out_uncertainty.h5")
    assert unc["layout"] == "offsets" and unc["gaps"] == [(5.0, 5.0)]
    width = unc["hi"] - unc["lo"]
    assert width.shape == (2, 25 * 200) and np.all(width[:, 1000:2000] == 0)
    np.testing.assert_allclose(width[:, :1000], np.broadcast_to((unc["offsets"][1] - unc["offsets"][0])[:, None],
                                                               (2, 1000)), rtol=1e-5)
    assert np.all(width[:, 2000:] > 0)
    # a window that starts inside the gap: zero width up to its end, full width after
    part = read_uncertainty_h5(tmp_path / "out_uncertainty.h5", start=1500, stop=2500)
    np.testing.assert_array_equal(part["hi"] - part["lo"], width[:, 1500:2500])
    assert np.all(part["hi"][:, :500] == part["lo"][:, :500]) and np.all(part["hi"][:, 500:] > part["lo"][:, 500:])
