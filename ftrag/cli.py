"""Command-line flags made from config dataclasses: how every ``python -m`` tool of the course that has a config reads
its flags, and how it records the command that made a file.

Each field of the dataclass is a flag (``transformers.HfArgumentParser`` does the mapping): ``batch_size`` is
``--batch-size`` (``--batch_size`` works too), its default is the field's, its help text the ``help`` of the field's
metadata, which ``arg`` writes::

    @dataclass
    class SweepArgs:
        steps: int = arg(40, "optimizer steps per run")

    (args,) = parse(parser_for(SweepArgs, prog="python -m ftrag.course.forgetting", description="..."), argv)
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import field

from transformers import HfArgumentParser


def arg(default, help: str, **argparse_kwargs):
    """A dataclass field that is also a flag: ``help`` is its help text; ``choices``, ``nargs``... go to argparse."""
    return field(default=default, metadata={"help": help, **argparse_kwargs})


def parser_for(*configs: type, prog: str, description: str) -> HfArgumentParser:
    """A parser with one flag per field of each dataclass in ``configs``; ``--help`` shows each flag's default."""
    return HfArgumentParser(configs, prog=prog, description=description)


def parse(parser: HfArgumentParser, argv: list[str] | None = None) -> tuple:
    """One instance per dataclass of ``parser``, in order, then a namespace of the flags added to it by hand, if any.

    ``argv`` None: the command line. An unknown flag exits with argparse's message, as ``parse_args`` does.
    """
    # look_for_args_file=False: no flags are read from a stray "<script>.args" file next to the module.
    *parsed, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True,
                                                          look_for_args_file=False)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return tuple(parsed)


def command_line(module: str, argv: list[str] | None = None) -> str:
    """``python -m module`` and its flags as typed (``argv`` None: this process's), to record what made a file."""
    return " ".join(["python", "-m", module, *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
