"""Command-line usage errors: one line (``scalefit: error: ...``) instead of argparse's
usage dump, with the closest subcommand or option when a word is mistyped."""

from __future__ import annotations

import argparse
import difflib
import re


class UsageError(Exception):
    """Bad command line: exit 2 with one line."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``scalefit: error: ...``) instead of usage dumps."""

    def error(self, message: str):
        m = re.match(r"argument (\S+): (-\S+) must be ", message)
        if m and m.group(2) in m.group(1).split("/"):  # the option's own message names it
            message = message[len("argument ") + len(m.group(1)) + 2:]
        raise UsageError(f"{message}{self._did_you_mean(message)} (see '{self.prog} --help')")

    def _did_you_mean(self, message: str) -> str:
        """'; did you mean X?' for a mistyped subcommand or option, else ''."""
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            known, word = re.findall(r"'([^']*)'", m.group(2)), m.group(1)
        else:
            m = re.search(r"unrecognized arguments: (-\S+)", message)
            if not m:
                return ""
            word = m.group(1).split("=")[0]
            parsers = [self] + [sp for a in self._actions
                                if isinstance(a, argparse._SubParsersAction)
                                for sp in a.choices.values()]
            known = sorted({o for p in parsers for a in p._actions for o in a.option_strings})
        close = difflib.get_close_matches(word, known, n=2, cutoff=0.6)
        return f"; did you mean {' or '.join(close)}?" if close else ""
