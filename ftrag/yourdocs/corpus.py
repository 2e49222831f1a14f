"""Reading a folder of your own documents: ``.txt``, ``.md`` and ``.html`` files, one document per file.

Each document is ``{"doc_id": <path inside the folder>, "title": <first line or file name>, "text": ...}``, the
shape every retriever of the course indexes. HTML is reduced to its text with the standard library's parser
(``<script>`` and ``<style>`` dropped, block elements become line breaks); PDF is not read: convert it to text
first (``pdftotext file.pdf``, from poppler, keeps the reading order of simple layouts).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

SUFFIXES = (".txt", ".md", ".html", ".htm")
# The limit on a corpus this machine-sized tool reads: 5 million characters (about 1.2 million tokens, 2,500 books'
# chapters). Past it, embedding the chunks on a laptop CPU takes over ten minutes and the index several hundred MB.
MAX_CHARS = 5_000_000
_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "section", "article", "table",
           "dt", "dd", "blockquote"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML page: paragraphs on their own lines, runs of spaces collapsed."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def read_document(path: Path) -> str:
    """The text of one file (HTML reduced to its text); a file that is not UTF-8 says how to convert it."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded): save it as UTF-8 (e.g. "
                         f"`iconv -f latin1 -t utf-8 {path.name}`) or move it out of the folder") from exc
    except OSError as exc:
        raise ValueError(f"{path} cannot be read ({exc.strerror}): check its permissions or move it out") from exc
    return html_to_text(raw) if path.suffix.lower() in (".html", ".htm") else raw.strip()


def _title(text: str, path: Path) -> str:
    first = next((line.strip("#= *\t") for line in text.splitlines() if line.strip("#= *\t")), "")
    return first[:120] or path.stem


def load_folder(folder: str | Path, *, max_chars: int = MAX_CHARS, quiet: bool = False) -> list[dict]:
    """Every ``.txt``/``.md``/``.html`` file under ``folder`` (sorted by path) as a document.

    Empty files are skipped and listed; other files (PDF, images...) are counted and named, never read. A clear
    error for a missing or empty folder, a file that cannot be read, and a corpus over ``max_chars`` characters.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder: pass the folder that holds your documents "
                                f"({', '.join(SUFFIXES)} files)")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not any(x.startswith(".") for x in
                                                                           p.relative_to(root).parts))
    wanted = [p for p in files if p.suffix.lower() in SUFFIXES]
    others = [p.relative_to(root).as_posix() for p in files if p.suffix.lower() not in SUFFIXES]
    if not wanted:
        found = f"; it holds {len(others)} other file(s), e.g. {others[:3]}" if others else " (it is empty)"
        raise ValueError(f"{root} has no {', '.join(SUFFIXES)} file{found}. PDF: convert it to text first "
                         f"(`pdftotext file.pdf`)")
    docs, empty, total = [], [], 0
    for path in wanted:
        text = read_document(path)
        rel = path.relative_to(root).as_posix()
        if not text:
            empty.append(rel)
            continue
        total += len(text)
        if total > max_chars:
            raise ValueError(f"{root} holds more than {max_chars:,} characters of text (reached at {rel}): this tool "
                             f"embeds every chunk on the CPU, which takes over ten minutes past that size. Point it "
                             f"at a sub-folder, or raise max_chars if the machine has the time and memory")
        docs.append({"doc_id": rel, "title": _title(text, path), "type": path.suffix.lower().lstrip("."),
                     "text": text})
    if not docs:
        raise ValueError(f"every document file in {root} is empty: {empty[:5]}")
    if not quiet:
        skipped = f"; skipped {len(empty)} empty file(s): {empty[:3]}" if empty else ""
        ignored = f"; not read: {len(others)} other file(s), e.g. {others[:3]}" if others else ""
        print(f"{root.name}: {len(docs)} documents, {total:,} characters{skipped}{ignored}")
    return docs
