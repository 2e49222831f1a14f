"""Command-line flags made from config dataclasses: how every ``python -m`` tool of the course reads its flags, and
how it records the command that made a file.

Each field of the dataclass is a flag (``transformers.HfArgumentParser`` does the mapping): ``batch_size`` is
``--batch-size`` (``--batch_size`` works too), its default is the field's, its help text the ``help`` of the field's
metadata, which ``arg`` writes. Two kinds of field are made here instead: ``switch`` (an on/off flag that takes no
value, as argparse's ``store_true``) and ``positional`` (the arguments that are not flags, e.g. paths)::

    @dataclass
    class SweepArgs:
        paths: list[Path] = positional("files to read (default: all)")
        steps: int = arg(40, "optimizer steps per run")
        check: bool = switch("only compare, write nothing")

    (args,) = parse(parser_for(SweepArgs, prog="python -m ftrag.course.forgetting", description="..."), argv)
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from argparse import ArgumentDefaultsHelpFormatter
from dataclasses import field
from typing import get_args

from transformers import HfArgumentParser


def arg(default, help: str, **argparse_kwargs):
    """A dataclass field that is also a flag: ``help`` is its help text; ``choices``, ``nargs``... go to argparse."""
    return field(default=default, metadata={"help": help, **argparse_kwargs})


def switch(help: str):
    """An on/off flag (``check: bool = switch(...)`` is ``--check``): False unless given, and it takes no value."""
    return field(default=False, metadata={"help": help, "action": "store_true"})


def positional(help: str, **argparse_kwargs):
    """The positional arguments of a tool (``paths: list[Path] = positional(...)``): a list, empty when none given."""
    return field(default_factory=list, metadata={"help": help, "positional": True, **argparse_kwargs})


class _Parser(HfArgumentParser):
    """HfArgumentParser, plus the two kinds of field it does not make.

    It turns a bool field into ``--check [CHECK]``, whose optional true/false value would swallow a path typed after
    it, and every field into a ``--flag``. (It calls ``_parse_dataclass_field`` once per field; the rest is its own.)
    """

    @staticmethod
    def _parse_dataclass_field(parser, spec: dataclasses.Field) -> None:
        kwargs = dict(spec.metadata)
        if kwargs.pop("positional", False):
            (item,) = get_args(spec.type)  # list[Path]: each argument is a Path
            parser.add_argument(spec.name, type=item, nargs=kwargs.pop("nargs", "*"), default=spec.default_factory(),
                                **kwargs)
        elif kwargs.get("action") == "store_true":  # both spellings, in HfArgumentParser's order
            hyphens = [f"--{spec.name.replace('_', '-')}"] if "_" in spec.name else []
            parser.add_argument(f"--{spec.name}", *hyphens, default=False, **kwargs)
        else:
            HfArgumentParser._parse_dataclass_field(parser, spec)


class _Help(ArgumentDefaultsHelpFormatter):
    """Each flag's default after its help text, unless the text names it already (``(default: build/slides)``)."""

    def _get_help_string(self, action) -> str:
        text = action.help or ""
        return text if "default" in text else super()._get_help_string(action)


def parser_for(*configs: type, prog: str, description: str) -> HfArgumentParser:
    """A parser with one flag per field of each dataclass in ``configs``; ``--help`` shows each flag's default."""
    return _Parser(configs, prog=prog, description=description, formatter_class=_Help)


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
