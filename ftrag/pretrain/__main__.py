"""``python -m ftrag.pretrain``: train the course tokenizer and model on World A (``--help`` for every flag).
"""

from __future__ import annotations

import sys

from ftrag.cli import command_line, parse, parser_for
from ftrag.paths import repo_root
from ftrag.pretrain.config import SMOKE, PretrainConfig
from ftrag.pretrain.loop import train


def parse_args(argv: list[str] | None = None) -> tuple[PretrainConfig, bool]:
    """Flags for every PretrainConfig field (``--hidden-size``, ...), plus --smoke and --fresh."""
    argv = sys.argv[1:] if argv is None else argv
    parser = parser_for(PretrainConfig, prog="python -m ftrag.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a one-minute run of a tiny model into runs/smoke (checks the whole pipeline)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the checkpoint in --work-dir and start over (the tokenizer and token "
                             "cache are reused while the corpus is unchanged: they are deterministic)")
    if "--smoke" in argv:
        root = repo_root()
        parser.set_defaults(**SMOKE, work_dir=str(root / "runs" / "smoke"),
                            out_dir=str(root / "runs" / "smoke" / "model"))
    cfg, extra = parse(parser, argv)
    return cfg, extra.fresh or extra.smoke  # a smoke run always starts from scratch


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = sys.argv[1:] if argv is None else argv
    cfg, fresh = parse_args(args)
    train(cfg, fresh=fresh, command=command_line("ftrag.pretrain", args))


if __name__ == "__main__":
    main()
