"""The checksum manifest of ``data/``: one ``sha256  path`` line per file, readable by ``sha256sum -c``."""

from __future__ import annotations

from pathlib import Path

from ftrag.files import sha256

MANIFEST = "MANIFEST.sha256"
# Not data: the marker the path finder looks for, and the manifest itself.
_SKIP = {MANIFEST, ".ftrag-data"}


def data_files(root: Path) -> list[Path]:
    """Every file under ``root`` that the manifest covers, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in _SKIP and "__pycache__" not in p.parts)


def compute(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` for every data file under ``root``."""
    return {p.relative_to(root).as_posix(): sha256(p) for p in data_files(root)}


def write(root: Path) -> Path:
    """Write ``root/MANIFEST.sha256`` for what is there now."""
    path = root / MANIFEST
    path.write_text("".join(f"{digest}  {rel}\n" for rel, digest in compute(root).items()))
    return path


def read(root: Path) -> dict[str, str]:
    """The manifest as ``{relative path: sha256}``; a missing manifest says how to make one."""
    path = root / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m ftrag.world --manifest-only` to write it")
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{path.name}, line {number}: expected '<sha256>  <path>', got {line!r}")
        entries[rel] = digest
    return entries


def problems(root: Path) -> list[str]:
    """Differences between the manifest and the files: changed, missing or unlisted files."""
    listed, actual = read(root), compute(root)
    found = [f"changed: {rel}" for rel in listed if rel in actual and actual[rel] != listed[rel]]
    found += [f"missing: {rel}" for rel in listed if rel not in actual]
    found += [f"not in the manifest: {rel}" for rel in actual if rel not in listed]
    return found
