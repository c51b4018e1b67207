"""The allocator settings reconstruct applies (glibc only; no-ops elsewhere) never fail."""

from ieegrecon.workflow.chunking import bound_heap, trim_heap


def test_bound_heap_and_trim_heap(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    applied = bound_heap()
    assert isinstance(applied, bool)
    trim_heap()
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert bound_heap() is False  # the environment's setting rules
