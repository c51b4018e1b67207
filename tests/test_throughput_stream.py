"""The streamed EDF writer's file does not depend on how the signal is cut into pieces."""

import numpy as np

from ieegrecon.io.edf_stream import StreamedEdfWriter


def _write(path, x, cuts):
    w = StreamedEdfWriter(path, ["A1", "B2"], 100.0, [(-500.0, 500.0)] * 2)
    for a, b in zip(cuts[:-1], cuts[1:]):
        w.write(x[:, a:b])
    assert w.close() == (-x.shape[1]) % 100
    return path.read_bytes()


def test_streamed_file_independent_of_piece_sizes(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 1037)) * 1e-4
    whole = _write(tmp_path / "a.edf", x, [0, 1037])
    for i, cuts in enumerate(([0, 30, 60, 61, 250, 1000, 1037], [0, 99, 100, 101, 799, 1037], [0, 500, 1036, 1037])):
        assert _write(tmp_path / f"b{i}.edf", x, cuts) == whole
