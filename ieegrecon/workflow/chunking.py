"""Chunked prediction with context: bounded memory at any recording length.

One rule for every caller: a recording of ``n_times`` samples is cut into
chunks ``[a, b)`` of ``chunk_s`` seconds, each processed with ``margin_s`` of
context on both sides ``[lo, hi)``, and only its middle is kept
(:func:`chunk_bounds`). Two entry points use it:

- :func:`predict_chunked` for raw input read on demand (the reconstruct
  path): each chunk is preprocessed and, where the segment ends, its mirror
  image stands in for the missing context (the border rule);
- :func:`predict_array` for already preprocessed arrays in memory (the
  evaluation): the context is truncated at the array's ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .._threads import read_ahead
from ..models.base import ReconModel
from ..preprocessing import Preprocessing, apply_preprocessing, extend_by_reflection

#: Length of one processing chunk for long raw recordings, in seconds.
CHUNK_S = 600.0
#: Context added on both sides of a chunk (filters, resampling, model windows), in seconds.
MARGIN_S = 10.0
#: Chunk length for preprocessed arrays in memory (evaluation), in seconds: shorter, because
#: posterior draws multiply a chunk's memory; kept at 120 s so the evaluation's published
#: figures reproduce bit-for-bit (model windows sit at chunk-relative positions).
ARRAY_CHUNK_S = 120.0


#: Allocations from this size up (bytes) are mapped and unmapped on their own, not carved from the
#: heap (glibc ``M_MMAP_THRESHOLD``; see :func:`bound_heap`).
MMAP_THRESHOLD = 1 << 20


#: Malloc arenas the process may use (:func:`cap_arenas`).
MALLOC_ARENAS = 1


def bound_heap() -> bool:
    """Keep the process heap from growing with the number of chunks (glibc only; a no-op elsewhere).

    glibc raises its mmap threshold each time a large block is freed (up to
    32 MiB), after which the per-chunk arrays and torch's many sub-MiB
    tensors are carved from the heap, which fragments and is not returned:
    a flow reconstruct's peak RSS grew by ~60 MiB over its chunks. Fixing the
    threshold at :data:`MMAP_THRESHOLD` returns every block of 1 MiB or more
    to the system when freed. A ``MALLOC_MMAP_THRESHOLD_`` set in the
    environment is left to rule.

    Returns
    -------
    bool
        Whether the setting was applied.
    """
    return _mallopt(-3, MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_")  # M_MMAP_THRESHOLD (malloc.h)


def cap_arenas(n: int = MALLOC_ARENAS) -> bool:
    """Let glibc keep at most ``n`` malloc arenas (glibc only; a no-op elsewhere or when ``MALLOC_ARENA_MAX`` is set).

    glibc gives threads their own arenas (up to 8 per core), each keeping its
    freed pages: with the thread policy's workers
    (:func:`ieegrecon._threads.ordered_map`) cast's streamed 2-h reconstruct
    peaked at 646 MiB, with one arena at 609 MiB and 11 % faster (session 11).

    Returns
    -------
    bool
        Whether the setting was applied.
    """
    return _mallopt(-8, int(n), "MALLOC_ARENA_MAX")  # M_ARENA_MAX (malloc.h)


def _mallopt(param: int, value: int, env: str) -> bool:
    """glibc ``mallopt(param, value)`` unless ``env`` is set (the user's setting rules); False elsewhere."""
    import ctypes
    import os
    import sys

    if not sys.platform.startswith("linux") or env in os.environ:
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(param, value))
    except (OSError, AttributeError):  # not glibc
        return False


def trim_heap() -> None:
    """Return the heap's free pages to the system (glibc ``malloc_trim``; a no-op elsewhere).

    Called between the prediction and the EDF writing: the pages freed by the
    last chunks (torch's tensors) would otherwise stay resident under the
    writer's own buffers.
    """
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def chunk_bounds(n_times: int, step: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Chunks ``[a, b)`` of ``step`` samples and their context ``[lo, hi)``.

    Parameters
    ----------
    n_times : int
        Samples in the recording.
    step : int
        Chunk length in samples (≥ 1).
    margin : int
        Context on each side in samples, truncated at ``0`` and ``n_times``.

    Returns
    -------
    list of (a, b, lo, hi)
        In time order; the ``[a, b)`` tile ``[0, n_times)``.
    """
    out = []
    for a in range(0, n_times, step):
        b = min(n_times, a + step)
        out.append((a, b, max(0, a - margin), min(n_times, b + margin)))
    return out


def predict_array(model: ReconModel, scalp: np.ndarray, sfreq: float, *, chunk_s: float = ARRAY_CHUNK_S,
                  margin_s: float = MARGIN_S,
                  predict_fn: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """``model.predict`` of a preprocessed array in chunks with context.

    Parameters
    ----------
    model : ReconModel
    scalp : ndarray, shape (n_scalp, n_times)
        Preprocessed scalp EEG at the model's rate (volts).
    sfreq : float
        Its rate in Hz.
    chunk_s, margin_s : float
        Chunk length and context in seconds; an array no longer than one
        chunk plus both margins is predicted whole.
    predict_fn : callable | None
        Replaces ``model.predict`` (time is the last axis of its output).

    Returns
    -------
    ndarray, shape (..., n_contacts, n_times)
    """
    run = predict_fn or model.predict
    n = scalp.shape[1]
    step, margin = int(chunk_s * sfreq), int(margin_s * sfreq)
    if n <= step + 2 * margin:
        return run(scalp)
    return np.concatenate([run(scalp[:, lo:hi])[..., a - lo:b - lo]
                           for a, b, lo, hi in chunk_bounds(n, step, margin)], axis=-1)


def predict_chunked(get_chunk: Callable[[int, int], np.ndarray], n_times: int, sfreq: float,
                    model: ReconModel, prep: Preprocessing, *, chunk_s: float | None = None,
                    margin_s: float | None = None,
                    predict_fn: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """Preprocess and reconstruct a long recording chunk by chunk, with bounded memory.

    Each chunk is processed with ``margin_s`` of context on both sides
    (read, resampled, filtered, referenced, reconstructed), and only its
    middle is kept, so the output matches whole-recording processing up to
    filter transients that have decayed within the margin.

    Border rule (the same for every method): samples ``[0, n_times)`` are
    one contiguous segment. Where the segment ends, there is no context to
    read, so the missing context is its mirror image
    (:func:`~ieegrecon.preprocessing.extend_by_reflection`: even reflection,
    power-line sinusoids continued), and the first and last chunks are
    processed exactly like interior ones; the filters' and the model's
    transients fall into the discarded extension. For a recording with gaps
    (EDF+D), call this once per contiguous segment. For models that ask for
    it (``reads_ahead``) and with more than one worker in the thread policy,
    the next chunk is read and preprocessed on a second thread while this one
    is reconstructed (:func:`ieegrecon._threads.read_ahead`; ``get_chunk`` is
    still called once at a time, in order).

    Parameters
    ----------
    get_chunk : callable
        ``get_chunk(start, stop)`` returns the model's scalp channels, in
        order, samples ``[start, stop)`` at ``sfreq``, in volts.
    n_times : int
        Samples in the input.
    sfreq : float
        Input rate in Hz.
    model : ReconModel
    prep : Preprocessing
    chunk_s, margin_s : float | None
        Chunk length and context in seconds (default: the model's ``max_chunk_s`` or
        :data:`CHUNK_S`, and :data:`MARGIN_S`).
    predict_fn : callable | None
        Replaces ``model.predict``; may return extra leading axes (e.g. bands),
        time is always the last axis.

    Yields
    ------
    y : ndarray, shape (n_contacts, n_chunk_out)
        Consecutive pieces of the reconstruction at ``prep.sfreq`` (volts);
        concatenated they have ``round(n_times * prep.sfreq / sfreq)`` samples.
    """
    if chunk_s is None:  # a model may ask for shorter chunks (memory of its predict grows with length)
        chunk_s = model.max_chunk_s or CHUNK_S
    margin_s = MARGIN_S if margin_s is None else margin_s
    ratio = prep.sfreq / sfreq
    n_out = int(round(n_times * ratio))
    margin = int(round(margin_s * sfreq))
    done = 0

    def prepare(bounds: tuple[int, int, int, int]) -> tuple[int, np.ndarray]:
        a, b, lo, hi = bounds
        # border rule: where the segment ends, its mirror image stands in for the missing context, so
        # every chunk (first and last too) is processed as an interior chunk: margin on both sides
        raw = extend_by_reflection(get_chunk(lo, hi), margin - (a - lo), (b + margin) - hi,
                                   sfreq=sfreq, line_freq=prep.line_freq)
        return b, apply_preprocessing(raw, sfreq, prep, reference=True)

    # the next chunk read and preprocessed on a second thread while this one is reconstructed (models that
    # ask for it: ReconModel.reads_ahead)
    bounds = chunk_bounds(n_times, max(1, int(round(chunk_s * sfreq))), margin)
    for b, x in (read_ahead if type(model).reads_ahead else map)(prepare, bounds):
        y = (predict_fn or model.predict)(x)
        out_a = int(round(margin * ratio))
        out_stop = n_out if b == n_times else int(round(b * ratio))
        piece = y[..., out_a:out_a + (out_stop - done)]
        done += piece.shape[-1]
        yield piece
        del x, y, piece  # nothing of this chunk stays alive while the next one is computed
