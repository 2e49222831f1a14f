"""``python -m ftrag.pretrain``: train the course tokenizer and model on World A (``--help`` for every flag).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import fields

from ftrag.paths import repo_root
from ftrag.pretrain.config import SMOKE, PretrainConfig
from ftrag.pretrain.loop import train


def parse_args(argv: list[str] | None = None) -> tuple[PretrainConfig, bool]:
    """Flags for every PretrainConfig field (``--hidden-size``, ...), plus --smoke and --fresh."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m ftrag.pretrain", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(PretrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=f.default, help=f.metadata["help"])
    parser.add_argument("--smoke", action="store_true",
                        help="a one-minute run of a tiny model into runs/smoke (checks the whole pipeline)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the checkpoint in --work-dir and start over (the tokenizer and token "
                             "cache are reused while the corpus is unchanged: they are deterministic)")
    if "--smoke" in argv:
        root = repo_root()
        parser.set_defaults(**SMOKE, work_dir=str(root / "runs" / "smoke"),
                            out_dir=str(root / "runs" / "smoke" / "model"))
    args = vars(parser.parse_args(argv))
    smoke, fresh = args.pop("smoke"), args.pop("fresh")
    return PretrainConfig(**args), fresh or smoke  # a smoke run always starts from scratch


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = sys.argv[1:] if argv is None else argv
    cfg, fresh = parse_args(args)
    train(cfg, fresh=fresh, command=" ".join(["python", "-m", "ftrag.pretrain", *map(shlex.quote, args)]))


if __name__ == "__main__":
    main()
