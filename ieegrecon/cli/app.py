"""The Typer application and the error policy shared by every subcommand.

Subcommand modules register with :func:`command`; it turns an
:class:`~ieegrecon.errors.IeegreconError` into one line on stderr and the
error's exit code, and any other exception into a one-line internal error
(exit 1). ``ieegrecon --debug CMD`` shows the traceback instead. Ctrl-C
exits 130 and SIGTERM (sent by ``timeout``, Slurm, ``kill``) exits 143;
both unwind the atomic writers, so no temporary or partial output is left. Typer's
pretty exceptions never print local variables (they may hold patient data).
Command-line mistakes (missing or unknown options, bad values) are one line too,
``ieegrecon: error: CMD: problem``, exit 2 (:class:`OneLineErrorsGroup`).
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import threading
from typing import Any, Callable

import typer
from rich.console import Console
from typer.core import TyperGroup

from .. import __version__
from ..errors import IeegreconError

class OneLineErrorsGroup(TyperGroup):
    """Typer's group, with every command-line error printed as one line.

    Typer prints a usage error as a five-line rich box; here it is
    ``ieegrecon: error: reconstruct: Missing option '--model'. (see --help)`` on
    stderr with the error's exit code (2 for usage errors). ``--help``, a
    bare ``ieegrecon`` (help, exit 2) and ``typer.Exit`` codes are unchanged.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # noqa: D102
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as exc:  # click's ClickException: UsageError, BadParameter, ...
            code = getattr(exc, "exit_code", 2)
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help was already printed
                sys.exit(code)
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.info_name}: " if ctx is not None and ctx.parent is not None else ""
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            message = " ".join(exc.format_message().split())
            err_console.print(f"ieegrecon: error: {where}{message}{hint}", markup=False, soft_wrap=True)
            sys.exit(code)
        except typer.Abort:
            err_console.print("ieegrecon: aborted", markup=False)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="ieegrecon",
    cls=OneLineErrorsGroup,
    help="Reconstruct intracranial EEG surrogates from scalp EEG.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: stderr console: progress, tables for humans, errors.
err_console = Console(stderr=True, highlight=False)
#: stdout console: results (tables, or JSON with --json).
out_console = Console(highlight=False)


class _State:
    debug = False


STATE = _State()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ieegrecon {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """ieegrecon: simulate, import, map, calibrate, reconstruct, evaluate."""
    STATE.debug = debug


def fail(err: IeegreconError) -> None:
    """Print ``err`` as one line on stderr (no markup) and exit with its code."""
    err_console.print(f"ieegrecon: error: {err}", markup=False, soft_wrap=True)
    raise typer.Exit(err.exit_code)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives; unwinds like Ctrl-C (exit 143)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def command(name: str | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a subcommand with ieegrecon's error policy."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kw: Any) -> Any:
            previous = None
            if threading.current_thread() is threading.main_thread():
                previous = signal.signal(signal.SIGTERM, _on_sigterm)
            try:
                return fn(*args, **kw)
            except typer.Exit:
                raise
            except Terminated:
                err_console.print("ieegrecon: terminated (SIGTERM); no partial output was kept", markup=False)
                raise typer.Exit(143) from None
            except IeegreconError as err:
                if STATE.debug:
                    raise
                fail(err)
            except KeyboardInterrupt:
                err_console.print("ieegrecon: interrupted; no partial output was kept", markup=False)
                raise typer.Exit(130) from None
            except Exception as exc:  # noqa: BLE001 - the last line of defence
                if STATE.debug:
                    raise
                err_console.print(
                    f"ieegrecon: internal error: {type(exc).__name__}: {exc} "
                    "(this is a bug; rerun with --debug for the traceback)",
                    markup=False,
                    soft_wrap=True,
                )
                raise typer.Exit(1) from None
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)

        app.command(name, **kwargs)(wrapper)
        return fn

    return deco


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (machine-readable summaries)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()
