"""The command line (``scalefit ...``): ``parser`` (arguments and help), ``commands``
(parse -> one library call -> render), ``main`` (entry point, exit codes, messages)."""

from .main import main
from .parser import STATUS_NAMES, build_parser

__all__ = ["main", "build_parser", "STATUS_NAMES"]
