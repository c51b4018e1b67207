"""The ieegrecon error hierarchy and its exit codes.

Every error a user can cause derives from :class:`IeegreconError`. The CLI
prints ``str(err)`` as one line (no traceback unless ``--debug``) and exits
with ``err.exit_code``. Messages name the file and what is wrong with it.

===========================  =====  ==========================================
class                        exit   meaning
===========================  =====  ==========================================
(typer/click usage error)    2      bad command line
:class:`InputError`          3      unreadable or invalid input file
:class:`ModelInputMismatch`  4      model and input are incompatible
:class:`OutputError`         5      output refused (exists, equals an input)
:class:`ModelFileError`      6      model folder unreadable, unsafe or invalid
(any other exception)        1      internal error (a bug: please report it)
===========================  =====  ==========================================
"""

from __future__ import annotations

from pathlib import Path

#: The end of every "output exists" message; names the parameter, as every
#: library message does (the CLI shows ``pass --overwrite to replace it``).
OVERWRITE_HINT = "set the 'overwrite' parameter to replace it"


class IeegreconError(Exception):
    """Base class of all errors a user can cause; carries an exit code."""

    exit_code = 1

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UsageError(IeegreconError):
    """Incoherent arguments (for example an output file for many inputs)."""

    exit_code = 2


class InputError(IeegreconError):
    """An input file is missing, unreadable, malformed or physically implausible."""

    exit_code = 3


class ModelInputMismatch(IeegreconError):
    """The model cannot be applied to this input (missing channels, rates...)."""

    exit_code = 4


class OutputError(IeegreconError):
    """The output cannot be written (exists without ``overwrite``, is an input...)."""

    exit_code = 5


class ModelFileError(IeegreconError):
    """A model folder is missing, pickled, corrupted or of an unknown version."""

    exit_code = 6
