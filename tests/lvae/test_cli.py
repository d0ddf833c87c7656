"""The error contract of every command line: one line on stderr, exit code 2 for bad input, 1 (and where
to look) for an internal error, the traceback only with --debug."""

from __future__ import annotations

import numpy as np
import pytest

from lvae.cli import EXIT_INPUT, EXIT_INTERNAL, ArgumentParser, InputError, run_cli


def _run(capsys, main, argv) -> tuple[int, list[str], str]:
    with pytest.raises(SystemExit) as exc:
        run_cli(main, argv)
    out, err = capsys.readouterr()
    return exc.value.code, err.splitlines(), out


def _bad_input(argv):
    raise InputError("NaN close", "SPX.csv line 1750 (2006-12-14), column Close")


def test_input_error_is_one_line_with_exit_code_2(capsys):
    code, err, _ = _run(capsys, _bad_input, [])
    assert code == EXIT_INPUT == 2
    assert err == ["error: NaN close, SPX.csv line 1750 (2006-12-14), column Close"]


def test_os_error_names_the_path(capsys, tmp_path):
    def main(argv):
        (tmp_path / "missing.csv").read_text()

    code, err, _ = _run(capsys, main, [])
    assert code == 2 and err == [f"error: No such file or directory, {tmp_path / 'missing.csv'}"]


def test_internal_error_says_where_to_look(capsys):
    from pipeline.windows import make_windows

    def main(argv):
        make_windows(np.zeros((3, 1, 1)), 5)  # a ValueError inside the project: not an input error

    code, err, _ = _run(capsys, main, [])
    assert code == EXIT_INTERNAL == 1 and len(err) == 1
    assert err[0].startswith("error: internal error ValueError: 3 feature rows is fewer than the window of 5, ")
    assert "at pipeline/windows.py:" in err[0] and "in make_windows" in err[0]
    assert err[0].endswith("; rerun with --debug for the traceback")


def test_debug_prints_the_traceback_then_the_same_line(capsys):
    code, err, _ = _run(capsys, _bad_input, ["--debug"])
    assert code == 2 and err[0] == "Traceback (most recent call last):"
    assert err[-2] == "lvae.cli.InputError: NaN close, SPX.csv line 1750 (2006-12-14), column Close"
    assert err[-1] == "error: NaN close, SPX.csv line 1750 (2006-12-14), column Close"


def test_usage_errors_are_input_errors_and_help_still_exits_0(capsys):
    def main(argv):
        p = ArgumentParser(prog="python -m demo")
        p.add_argument("--epochs", type=int, default=1)
        a = p.parse_args(argv)
        print(f"epochs {a.epochs}, debug {a.debug}")

    code, err, _ = _run(capsys, main, ["--epochs", "ten"])
    assert code == 2
    assert err == ["error: argument --epochs: invalid int value: 'ten', command line (see python -m demo --help)"]
    code, err, out = _run(capsys, main, ["--help"])
    assert code == 0 and err == [] and "--debug" in out and "full traceback" in out
    code, err, out = _run(capsys, main, ["--epochs", "3", "--debug"])
    assert code == 0 and err == [] and out == "epochs 3, debug True\n"


def test_a_multi_line_message_is_folded_into_one_line(capsys):
    def main(argv):
        raise InputError("bad\nthing", "here")

    assert _run(capsys, main, [])[1] == ["error: bad thing, here"]
