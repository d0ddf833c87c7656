"""The error contract of every command line of the project (``python -m pipeline.build``, ``envs.backtest``,
``lvae.validate``, ``flows.serve``).

- An expected failure (bad input the user can fix: a malformed file, a flag out of range, a missing path)
  raises :class:`InputError` (or an ``OSError``); :func:`run_cli` prints it as ONE line on stderr,
  ``error: <what is wrong>, <where: file, ticker, line or date, column>``, and exits with code 2.
- Anything else is an internal error: one line with the exception and the innermost frame of this
  project's code (``file:line``), exit code 1.
- ``--debug`` prints the full traceback before that line. ``--help`` and a normal run are untouched.

Usage in a ``__main__``::

    p = ArgumentParser(prog="python -m pkg.mod")   # adds --debug; usage errors become InputError
    ...
    if __name__ == "__main__":
        run_cli(main)
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

EXIT_INPUT = 2  # expected failure: bad input, flags or paths (argparse uses 2 for usage errors too)
EXIT_INTERNAL = 1  # a bug: the one line says where to look
EXIT_INTERRUPTED = 130  # Ctrl-C
REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("lvae", "pipeline", "envs", "flows")


class InputError(ValueError):
    """Bad input the user can fix. ``what`` says what is wrong, ``where`` where (file, ticker, line or date,
    column); ``str()`` is ``"<what>, <where>"``."""

    def __init__(self, what: str, where: str = "") -> None:
        self.what, self.where = what, where
        super().__init__(f"{what}, {where}" if where else what)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a ``--debug`` flag, whose usage errors raise :class:`InputError` (one line, exit 2
    under :func:`run_cli`) instead of printing the usage block."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", help="on failure, print the full traceback too")

    def error(self, message: str) -> NoReturn:
        raise InputError(message, f"command line (see {self.prog} --help)")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _describe_os_error(err: OSError) -> str:
    if err.strerror and err.filename is not None:
        return f"{err.strerror}, {err.filename}"
    return str(err)


def _project_frame(err: BaseException) -> str:
    """``path:line in function`` of the innermost traceback frame in this project's packages."""
    frames = traceback.extract_tb(err.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(REPO) and path.relative_to(REPO).parts[0] in PACKAGES:
            return f"{path.relative_to(REPO)}:{frame.lineno} in {frame.name}"
    last = frames[-1] if frames else None
    return f"{last.filename}:{last.lineno} in {last.name}" if last else "unknown location"


def run_cli(main: Callable[[list[str]], object], argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``main(argv)`` (default: ``sys.argv[1:]``) and exit under the contract of this module."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        main(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except (InputError, OSError) as err:
        if debug:
            traceback.print_exc()
        what = str(err) if isinstance(err, InputError) else _describe_os_error(err)
        print(f"error: {_one_line(what)}", file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except Exception as err:
        if debug:
            traceback.print_exc()
        hint = "" if debug else "; rerun with --debug for the traceback"
        print(
            f"error: internal error {type(err).__name__}: {_one_line(err)}, at {_project_frame(err)}{hint}",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
