"""The method registry and the model interface (ieegrecon.models.base)."""

from __future__ import annotations

import pytest

from ieegrecon.models import available_methods, get_model_class


def test_registry_lists_builtin_methods():
    assert {"ridge", "source"} <= set(available_methods())
    with pytest.raises(ValueError, match="Allowed values are"):
        get_model_class("nope")
