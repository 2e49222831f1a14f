"""Generate the whole course world into ``data/``: ``python -m ftrag.world``.

Every file is a pure function of the seeds below and this code, so running the command again reproduces each
file byte for byte with the same liblzma (``--check`` proves it without touching ``data/``: plain files against
``data/MANIFEST.sha256``, ``.xz`` files by their decompressed text).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ftrag.cli import arg, parse, parser_for, switch
from ftrag.files import XZ_PRESET, content_sha256, sha256
from ftrag.paths import data_dir
from ftrag.world import card, manifest, memos, notices, world_a, world_b

# One seed per part, so that changing one part leaves the others' files unchanged. The third entry says whether
# the part writes .xz files (and so takes ``xz_preset``).
PARTS = {
    "world_a": (world_a.generate, 1234, True),
    "world_b": (world_b.generate, world_b.SEED, False),
    "dialect": (memos.generate, memos.SEED, True),
    "json_task": (notices.generate, notices.SEED, False),
}
GENERATED_DIRS = ("world_a", "knowledge", "dialect", "json_task")


def generate_all(out: Path, only: list[str] | None = None, xz_preset: int = XZ_PRESET) -> dict[str, dict]:
    """Run the generators (all, or ``only``) into ``out``; return their statistics."""
    stats = {}
    for name, (generate, seed, writes_xz) in PARTS.items():
        if only and name not in only:
            continue
        print(f"generating {name} (seed {seed}) ...", flush=True)
        stats[name] = generate(out, seed=seed, **({"xz_preset": xz_preset} if writes_xz else {}))
    return stats


def check(data: Path) -> list[str]:
    """Regenerate into a temporary folder and compare with the manifest and the files of ``data``.

    Plain files are compared with the manifest byte for byte. ``.xz`` files are compared by their decompressed text
    with the committed files (which ``manifest.problems`` checks against the manifest): the compressed bytes depend
    on the liblzma that Python was built with, the text does not, and compressing fast (preset 0) saves most of the
    check's time.
    """
    listed = manifest.read(data)
    wanted = [rel for rel in listed if rel.split("/")[0] in GENERATED_DIRS or "/" not in rel]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if (data / "models").exists():  # the data card counts tokens with the course tokenizer
            shutil.copytree(data / "models", out / "models")
        generate_all(out, xz_preset=0)
        card.write(out)
        bad = []
        for rel in wanted:
            fresh = out / rel
            if not fresh.is_file():
                bad.append(f"{rel}: not regenerated")
            elif rel.endswith(".xz"):
                if content_sha256(fresh) != content_sha256(data / rel):
                    bad.append(f"{rel}: regenerated text differs from the committed file's")
            elif sha256(fresh) != listed[rel]:
                bad.append(f"{rel}: regenerated file differs from the manifest")
    return bad


@dataclass
class WorldArgs:
    """The flags of ``python -m ftrag.world``."""

    out: Path | None = arg(None, "data folder to write (default: the course's data/)")
    # --only takes a list (nargs="+"); the annotation is the type of each name, as argparse's type= is
    only: str | None = arg(None, "generate only these parts", nargs="+", choices=sorted(PARTS))
    manifest_only: bool = switch("only rewrite the data card and the manifest")
    check: bool = switch("regenerate in a temporary folder and compare with the manifest")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.world``: generate every part into data/, then the data card and the manifest."""
    parser = parser_for(WorldArgs, prog="python -m ftrag.world",
                        description="Generate the course world (World A, World B, dialect, JSON task).")
    (args,) = parse(parser, argv)
    out = (args.out or data_dir()).resolve()
    if args.check:
        bad = check(out)
        print("\n".join(bad) if bad else "every generated file matches the manifest")
        return 1 if bad else 0
    out.mkdir(parents=True, exist_ok=True)
    (out / ".ftrag-data").touch()
    if not args.manifest_only:
        generate_all(out, args.only)
    card.write(out)
    print(f"wrote {manifest.write(out).relative_to(out.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
