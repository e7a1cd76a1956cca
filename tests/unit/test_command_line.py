"""run.py's help: the commands with one line each, and every option of every command with its
help text and default."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

import run
from tests.conftest import ROOT


class _Caught(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def parser_of(command: str, monkeypatch) -> argparse.ArgumentParser:
    """The parser a command builds, taken as it is asked to parse (nothing runs)."""
    def catch(self, *args, **kwargs):
        raise _Caught(self)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    with pytest.raises(_Caught) as caught:
        run.main([command])
    return caught.value.parser


def test_run_py_help_lists_every_command_with_one_line():
    out = subprocess.run([sys.executable, "run.py", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    for command in run.COMMANDS:
        line = next(ln for ln in out.stdout.splitlines() if ln.strip().startswith(command + " "))
        assert len(line.split(None, 1)[1]) > 20, line


def test_an_unknown_command_is_refused_with_the_list():
    out = subprocess.run([sys.executable, "run.py", "serv"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "unknown command 'serv'" in out.stderr
    assert "loadtest" in out.stderr


@pytest.mark.parametrize("command", list(run.COMMANDS))
def test_every_option_has_help_and_shows_its_default(command, monkeypatch):
    parser = parser_of(command, monkeypatch)
    formatter = parser._get_formatter()
    # Hidden options (help=SUPPRESS) are between processes of ours, e.g. serve's --ready-fd.
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"
               and a.help != argparse.SUPPRESS]
    assert options
    for action in options:
        text = formatter._expand_help(action) if action.help else ""
        assert text.strip(), f"{command} {action.option_strings[0]} has no help"
        flag = isinstance(action, argparse._StoreTrueAction)
        assert flag or "default" in text, f"{command} {action.option_strings[0]}: {text!r}"


def test_a_generated_admin_token_never_reads_as_an_option():
    from delivery.admintoken import new_token

    # 2,000 draws: a plain token_urlsafe starts with "-" once in 64.
    assert not any(new_token().startswith("-") for _ in range(2000))
