"""The decision guide: when to fine-tune, when to retrieve, when both, when neither, each row with its evidence.

Every number in the guide is read from a lesson's results file (``results/NN_name.json``, written when the lesson
runs on the course model), never typed: ``python -m ftrag.guide`` writes ``docs/decision_guide.md`` from them, and a
test fails when the committed guide differs from what the files say now. The lesson 05 notebook shows the same
table. ``python -m ftrag.guide --html [FILE]`` writes the one-page printable handout (default
``build/decision_guide.html``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ftrag.paths import repo_root
from ftrag.results import load_results

LESSONS = {"02": "02_json_finetuning", "03": "03_dialect_finetuning", "04": "04_rag_pipeline",
           "05": "05_finetune_or_rag"}
LINKS = {k: f"../notebooks/{v}.ipynb" for k, v in LESSONS.items()}

# (situation, what to do, evidence). In the evidence, {NN:key} is results/NN_*.json's value for key, and
# {NN:key:FORMAT} formats it (Python format spec); [NN] links the lesson.
ROWS = [
    ("The model must produce a format or behaviour it has never seen (JSON with a schema, a fixed style of output)",
     "**Fine-tune** (LoRA is enough)",
     "zero-shot parse rate {02:zero_shot_parse:.3f}; after LoRA on {02:lora_trained_percent:.1f}% of the "
     "weights: parse {02:lora_parse:.3f}, field exact match {02:lora_field_em:.3f} [02]"),
    ("Only the syntax must be valid (any well-formed JSON will do)",
     "**Neither**: constrained decoding, no training",
     "parse rate {02:constrained_parse:.2f} with a grammar and no training, but field exact match "
     "{02:constrained_field_em:.3f}: the content still needs fine-tuning or a better model [02]"),
    ("A corpus with its own dialect: codes, fixed phrases, house conventions",
     "**Fine-tune** (continued pretraining)",
     "dialect perplexity {03:base_dialect_ppl:,.0f} -> {03:lora_dialect_ppl:,.0f} after 40 LoRA steps; on the "
     "memos tried both ways, {03:lora_ppl_same_memos:,.0f} after LoRA vs {03:best_rag_context_ppl:,.0f} with the "
     "best retrieved memos in the context; closing-line exact match "
     "{03:closing_em_finetuned:.2f} fine-tuned vs {03:closing_em_rag:.2f} with retrieval, {03:closing_em_base:.2f} "
     "base [03]"),
    ("New facts the model has never seen",
     "**Retrieve** (RAG)",
     "exact match {05:rag_em:.3f} with RAG vs {05:docs_full_em:.3f} after continued pretraining on the same "
     "documents (closed-book {05:closed_book_em:.3f}) [05]; on all of World B, RAG {04:rag_em:.3f} vs "
     "closed-book {04:closed_book_em:.3f} [04]"),
    ("Facts that must be stated in answers to questions worded any way",
     "**Retrieve**; fine-tuning needs paraphrases *and* QA examples and still trails",
     "fine-tuned on 10 paraphrases per document plus QA pairs: exact match {05:mixed_k10_em:.3f} (1 rendering: "
     "{05:mixed_k1_em:.3f}); multiple choice {05:mixed_k10_mc:.3f} vs {05:mixed_k1_mc:.3f}; RAG {05:rag_em:.3f} "
     "[05]"),
    ("Users ask the questions you could train on",
     "**Retrieve**: trained question strings do not generalise",
     "exact match {05:memorised_em_trained_wording:.3f} on the trained wording, {05:memorised_em_reworded:.3f} on "
     "the same facts reworded [05]"),
    ("Facts change (prices, deadlines) or arrive daily",
     "**Retrieve**: replace the document",
     "adding a fact: RAG embeds {05:rag_add_fact_tokens:,.0f} tokens (milliseconds); fine-tuning on the changed "
     "document processes {05:ft_update_fact_tokens:,.0f} tokens ({05:ft_update_fact_seconds:.1f} s) [05]"),
    ("RAG retrieves look-alike documents and the reader is confused by them",
     "**Both**: fine-tune the reader on retrieval-style prompts (RAFT), and retrieve fewer, better passages",
     "gold document among 2 look-alikes: exact match {05:plain_reader_gold_2:.3f} -> {05:raft_reader_gold_2:.3f} "
     "after RAFT training (gold alone {05:plain_reader_gold_0:.3f} -> {05:raft_reader_gold_0:.3f}) [05]; 8 "
     "retrieved passages read worse than 1: {04:em_8_passages:.3f} vs {04:em_1_passage:.3f} [04]"),
    ("The reader itself is weak",
     "**Neither** fine-tuning nor retrieval tuning first: a bigger model",
     "the same retrieved passages read by a smaller reader: exact match {05:weak_reader_rag_em:.3f} vs "
     "{05:course_reader_rag_em:.3f} by the course model [05]"),
    ("You fine-tune, and the model must keep what it knew",
     "**LoRA** rather than full fine-tuning; check a held-out set",
     "World A perplexity after training on the dialect {03:full_world_a_ppl:.2f} (full) vs {03:lora_world_a_ppl:.2f} "
     "(LoRA), base {03:base_world_a_ppl:.2f} [03]; after the fact documents {05:docs_full_world_a_ppl:.3f} vs "
     "{05:docs_lora_world_a_ppl:.3f}, base {05:base_world_a_ppl:.3f} [05]"),
]

_FIELD = re.compile(r"\{(\d\d):([a-z0-9_]+)(?::([^}]*))?\}")
_LINK = re.compile(r"\[(\d\d)\]")


def _values() -> dict[str, dict]:
    return {lesson: load_results(stem) for lesson, stem in LESSONS.items()}


def fill(template: str, values: dict[str, dict] | None = None, *, links: bool = True) -> str:
    """``template`` with every ``{NN:key[:fmt]}`` replaced by the lesson's recorded value (and ``[NN]`` linked)."""
    values = values if values is not None else _values()

    def number(match: re.Match) -> str:
        lesson, key, spec = match.group(1), match.group(2), match.group(3) or ""
        if lesson not in values:
            raise KeyError(f"no results file for lesson {lesson}; known: {sorted(values)}")
        if key not in values[lesson]:
            raise KeyError(f"results/{LESSONS[lesson]}.json has no {key!r}; rerun lesson {lesson} "
                           f"(`python -m ftrag.refresh notebooks/{LESSONS[lesson]}.ipynb`)")
        return format(values[lesson][key], spec)

    text = _FIELD.sub(number, template)
    if links:
        return _LINK.sub(lambda m: f"([lesson {m.group(1)}]({LINKS[m.group(1)]}))", text)
    return _LINK.sub(lambda m: f"(lesson {m.group(1)})", text)


def table(values: dict[str, dict] | None = None):
    """The guide as a DataFrame (situation, do, evidence), numbers filled in."""
    import pandas as pd

    values = values if values is not None else _values()
    return pd.DataFrame([{"situation": s, "do": d.replace("**", ""), "evidence": fill(e, values, links=False)}
                         for s, d, e in ROWS])


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
        "lesson's results file (`results/`); `python -m ftrag.guide` writes this page from them, and a test fails",
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
    from html import escape

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
and is read from the lessons' results files (<code>python -m ftrag.guide --html</code> wrote this page).</p>
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
    """``python -m ftrag.guide``: write docs/decision_guide.md from the results files (``--check``: only compare)."""
    import argparse

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
            print(f"{path} disagrees with the results files: run `python -m ftrag.guide`")
            return 1
        print(f"{path} matches the results files")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
