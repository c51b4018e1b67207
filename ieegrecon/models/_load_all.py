"""Import every built-in method so that it registers itself."""

from . import cast, flow, ridge, source  # noqa: F401
