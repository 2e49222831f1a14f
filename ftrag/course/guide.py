"""Write the decision guide's page (``docs/decision_guide.md``) and its printable handout from ``ftrag.decision``.
"""

from __future__ import annotations

import argparse
import re
from html import escape
from pathlib import Path

from ftrag.decision import ROWS, _values, fill
from ftrag.paths import repo_root

FLOWCHART = """flowchart TD
    A[What must the model gain?] --> B{A format or behaviour?}
    B -- "only valid syntax" --> N1[Neither: constrained decoding]
    B -- "format and content" --> F1[Fine-tune with LoRA]
    A --> C{A dialect or house style?}
    C -- yes --> F2[Fine-tune: continued pretraining]
    A --> D{Facts?}
    D -- "new, many, or changing" --> R1[Retrieve: RAG]
    R1 --> E{Reader confused by look-alike passages?}
    E -- yes --> BOTH[Both: RAFT-train the reader, retrieve fewer passages]
    E -- "reader too weak even with the gold passage" --> N2[Neither: a bigger model]"""


def markdown(values: dict[str, dict] | None = None) -> str:
    """The whole ``docs/decision_guide.md``."""
    values = values if values is not None else _values()
    lines = [
        "# Fine-tune or RAG? The decision guide",
        "",
        "Every number below was measured by a lesson of this course on the course model and is read from the",
        "lesson's results file (`results/`); `python -m ftrag.course.guide` writes this page from them, and a test "
        "fails",
        "when the page and the files disagree. Rerun a lesson and then this command to update it.",
        "",
        "| situation | do | evidence (measured) |",
        "|---|---|---|",
    ]
    lines += [f"| {s} | {d} | {fill(e, values)} |" for s, d, e in ROWS]
    lines += ["", "## The same, as a flow chart", "", "```mermaid", FLOWCHART, "```", "",
              "## What these numbers do not show", "",
              "They come from a 4.2M-parameter model on a synthetic world. At scale the literature reports the same",
              "direction for facts (Ovadia et al., 2024: RAG 0.875 vs fine-tuning about 0.5 on new current-events",
              "facts) and for paraphrases (Allen-Zhu & Li, 2023); a larger reader reads long contexts far better than",
              "ours (lesson 04). Rerun the lessons with `FTRAG_MODEL` set to a hub model to see which rows carry",
              "over.", ""]
    return "\n".join(lines)


# The flow chart of the handout, as text (a printed page cannot run mermaid).
FLOW_STEPS = [
    ("The model must learn a format or a behaviour", "only valid syntax: constrained decoding; format and content: "
     "fine-tune with LoRA"),
    ("The model must speak a dialect or house style", "fine-tune: continued pretraining"),
    ("The model must state facts (new, many, or changing)", "retrieve (RAG); if look-alike passages confuse the "
     "reader, RAFT-train it and retrieve fewer passages (both); if it fails even with the right passage, a "
     "bigger model (neither)"),
]

_HTML_STYLE = """
@page { size: A4 landscape; margin: 10mm; }
body { font: 9pt/1.3 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #111;
       max-width: 280mm; margin: 0 auto; }
h1 { font-size: 15pt; margin: 0 0 2mm; }
p { margin: 1mm 0 2mm; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.3mm solid #999; padding: 1mm 1.5mm; vertical-align: top; text-align: left; }
th { background: #eee; }
td:nth-child(1) { width: 24%; } td:nth-child(2) { width: 22%; }
ol { margin: 1mm 0 1mm 5mm; padding: 0; }
.small { font-size: 7.5pt; color: #444; }
"""


def html(values: dict[str, dict] | None = None) -> str:
    """The guide as one printable page (A4 landscape): self-contained HTML, no scripts, no external files."""

    values = values if values is not None else _values()

    def cell(text: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text)).replace("*", "")

    rows = "\n".join(f"<tr><td>{cell(s)}</td><td>{cell(d)}</td><td>{cell(fill(e, values, links=False))}</td></tr>"
                     for s, d, e in ROWS)
    steps = "\n".join(f"<li><b>{escape(q)}?</b> {escape(a)}.</li>" for q, a in FLOW_STEPS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Fine-tune or RAG? The decision guide</title>
<style>{_HTML_STYLE}</style></head>
<body>
<h1>Fine-tune or RAG? The decision guide</h1>
<p>Every number was measured by a lesson of the course <i>Fine-tune or RAG?</i> on its 4.2M-parameter course model
and is read from the lessons' results files (<code>python -m ftrag.course.guide --html</code> wrote this page).</p>
<table><thead><tr><th>situation</th><th>do</th><th>evidence (measured)</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p><b>In short:</b></p>
<ol>
{steps}
</ol>
<p class="small">What these numbers do not show: they come from a small model on a synthetic world. At scale the
literature reports the same direction for facts (Ovadia et al., 2024: RAG 0.875 vs fine-tuning about 0.5 on new
current-events facts) and for paraphrases (Allen-Zhu &amp; Li, 2023); a larger reader reads long contexts far better.
Rerun the lessons with <code>FTRAG_MODEL</code> set to a hub model to see which rows carry over.</p>
</body></html>
"""


def guide_path() -> Path:
    return repo_root() / "docs" / "decision_guide.md"


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.guide``: write docs/decision_guide.md from the results files (``--check``: only
    compare)."""

    parser = argparse.ArgumentParser(description="Write the decision guide from the lessons' results files.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/decision_guide.md is out of date")
    parser.add_argument("--html", type=Path, metavar="FILE", nargs="?", const=Path("build/decision_guide.html"),
                        help="write the one-page printable handout instead (default FILE: build/decision_guide.html)")
    args = parser.parse_args(argv)
    if args.html:
        out = args.html if args.html.is_absolute() else repo_root() / args.html
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html())
        print(f"wrote {out}: open it in a browser and print it (A4 landscape, one page)")
        return 0
    text = markdown()
    path = guide_path()
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print(f"{path} disagrees with the results files: run `python -m ftrag.course.guide`")
            return 1
        print(f"{path} matches the results files")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
