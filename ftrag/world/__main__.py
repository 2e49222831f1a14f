"""Generate the whole course world into ``data/``: ``python -m ftrag.world``.

Every file is a pure function of the seeds below and this code, so running the command again reproduces each
file byte for byte (``--check`` proves it against ``data/MANIFEST.sha256`` without touching ``data/``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from ftrag.world import card, dialect, json_task, manifest, world_a, world_b

# One seed per part, so that changing one part leaves the others' files unchanged.
PARTS = {
    "world_a": (world_a.generate, 1234),
    "world_b": (world_b.generate, world_b.SEED),
    "dialect": (dialect.generate, dialect.SEED),
    "json_task": (json_task.generate, json_task.SEED),
}
GENERATED_DIRS = ("world_a", "knowledge", "dialect", "json_task")


def generate_all(out: Path, only: list[str] | None = None) -> dict[str, dict]:
    """Run the generators (all, or ``only``) into ``out``; return their statistics."""
    stats = {}
    for name, (generate, seed) in PARTS.items():
        if only and name not in only:
            continue
        print(f"generating {name} (seed {seed}) ...", flush=True)
        stats[name] = generate(out, seed=seed)
    return stats


def check(data: Path) -> list[str]:
    """Regenerate into a temporary folder and compare with the manifest of ``data``."""
    listed = manifest.read(data)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if (data / "models").exists():  # the data card counts tokens with the course tokenizer
            shutil.copytree(data / "models", out / "models")
        generate_all(out)
        card.write(out)
        fresh = manifest.compute(out)
    wanted = {rel: digest for rel, digest in listed.items() if rel.split("/")[0] in GENERATED_DIRS or "/" not in rel}
    return [f"{rel}: regenerated file differs from the manifest" for rel, digest in wanted.items()
            if fresh.get(rel) != digest]


def main(argv: list[str] | None = None) -> int:
    from ftrag.paths import data_dir

    parser = argparse.ArgumentParser(description="Generate the course world (World A, World B, dialect, JSON task).")
    parser.add_argument("--out", type=Path, default=None, help="data folder to write (default: the course's data/)")
    parser.add_argument("--only", nargs="+", choices=sorted(PARTS), help="generate only these parts")
    parser.add_argument("--manifest-only", action="store_true", help="only rewrite the data card and the manifest")
    parser.add_argument("--check", action="store_true",
                        help="regenerate in a temporary folder and compare with the manifest")
    args = parser.parse_args(argv)
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
