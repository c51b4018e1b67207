"""Import every built-in method so that it registers itself."""

from . import ridge, source  # noqa: F401
