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

Library messages name Python parameters (``the 'line_freq' parameter``, see
:mod:`ieegrecon._checks`); :func:`flag_wording` rewrites each one the running
command has as an option into its flag (``--line-freq``), so the command line
speaks in flags and the library in parameters, from one message.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import signal
import sys
import threading
from typing import Any, Callable

import typer
from rich.console import Console
from typer.core import TyperGroup

from .. import __version__
from .._checks import PARAMETER_WORDING
from ..errors import IeegreconError

#: ``set the 'overwrite' parameter`` (a flag option: shown as ``pass --overwrite``).
_SET_PARAMETER = re.compile(r"set (" + PARAMETER_WORDING.pattern + ")")


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
    from .._threads import apply_thread_policy

    apply_thread_policy()  # one thread policy for torch and BLAS, before any heavy import (issue #25)


def running_command() -> Any:
    """The click command being run (its ``params`` are the options and arguments), or None.

    Typer >= 0.2x carries its own copy of click (``typer._click``), older
    typers use click itself: whichever is there holds the context.
    """
    for module in ("typer._click.globals", "click"):
        try:
            get_current_context = importlib.import_module(module).get_current_context
        except (ImportError, AttributeError):
            continue
        ctx = get_current_context(silent=True)
        if ctx is not None:
            return ctx.command
    return None


def flag_wording(message: str, command: Any = None) -> str:
    """``message`` with every ``the '<name>' parameter`` of ``command``'s options written as its flag.

    Parameters
    ----------
    message : str
        A library message naming parameters (``... the 'line_freq' parameter ...``).
    command : click.Command | None
        The command whose options are mapped; ``None`` takes the running one
        (:func:`running_command`; none running: ``message`` unchanged).

    Returns
    -------
    str
        ``the 'line_freq' parameter`` -> ``--line-freq`` (the option's first
        flag) for each name the command has as an option; ``set the
        'overwrite' parameter`` -> ``pass --overwrite`` for an on/off flag.
        Other names (arguments, parameters the command has not) are kept.
    """
    command = command if command is not None else running_command()
    if command is None:
        return message
    flags = {p.name: p for p in command.params if getattr(p, "param_type_name", "") == "option" and p.opts}

    def on_off(m: re.Match) -> str:
        opt = flags.get(m.group(2))
        return f"pass {opt.opts[0]}" if opt is not None and getattr(opt, "is_flag", False) else m.group(0)

    def flag(m: re.Match) -> str:
        opt = flags.get(m.group(1))
        return opt.opts[0] if opt is not None else m.group(0)

    return PARAMETER_WORDING.sub(flag, _SET_PARAMETER.sub(on_off, message))


def error_line(err: IeegreconError) -> str:
    """``str(err)`` with the running command's parameters written as flags (:func:`flag_wording`)."""
    message = flag_wording(err.message)
    return f"{err.path}: {message}" if err.path else message


def fail(err: IeegreconError) -> None:
    """Print ``err`` as one line on stderr (no markup), parameters as flags, and exit with its code."""
    err_console.print(f"ieegrecon: error: {error_line(err)}", markup=False, soft_wrap=True)
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
                    f"ieegrecon: internal error: {type(exc).__name__}: {flag_wording(str(exc))} "
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
