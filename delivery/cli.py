"""What every command line of run.py shares: help that shows each option's default."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written, and "(default: X)" after each option's help unless the help
    says its default itself (a default computed at run time: None) or it is an on/off flag."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        on_off = isinstance(action, argparse._StoreTrueAction)
        if "default" in text or on_off or action.default is None or action.default == [] \
                or action.default == argparse.SUPPRESS:
            return text
        return text + " (default: %(default)s)"


def parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """The parser of one run.py command."""
    return argparse.ArgumentParser(prog=prog, description=description,
                                   formatter_class=HelpFormatter)
