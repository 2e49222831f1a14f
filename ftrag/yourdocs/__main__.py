"""``python -m ftrag.yourdocs DOCS_FOLDER --questions QUESTIONS_FILE``: the course's method on your documents.

Reads the folder and the gold questions (checked first), indexes the documents, measures retrieval, reads with the
real model closed-book, with RAG, with the oracle (and the whole corpus when it fits), times a short LoRA run, and
writes ``report.md`` (with three plots and ``results.json``) into ``--out``. With no folder, it runs on the sample
that ships: Python's reference topics and their 60 questions (``data/pydoc``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag.cli import arg, command_line, parse, parser_for, positional
from ftrag.env import PeakMemory, seed_everything
from ftrag.lm import load_model
from ftrag.pretrain.report import cpu_description
from ftrag.yourdocs import measure, report
from ftrag.yourdocs.corpus import load_folder
from ftrag.yourdocs.questions import load_questions
from ftrag.yourdocs.sample import sample_folder, sample_questions


@dataclass
class YourDocsArgs:
    """The flags of ``python -m ftrag.yourdocs``."""

    docs: list[Path] = positional("the folder of .txt, .md and .html documents (none: the shipped sample, "
                                  "data/pydoc/topics)")
    questions: Path | None = arg(None, "CSV or JSONL with question, answer, file (none with no folder: the "
                                       "sample's data/pydoc/questions.csv)")
    out: Path = arg(Path("yourdocs-report"), "folder for report.md, its plots and results.json")
    model: str = arg("smollm2", "the reader (a name load_model accepts; it must read English)")
    k: int = arg(1, "chunks the RAG reader gets (the sample, 60 questions: top 1 0.42, top 2 0.33, top 3 0.25)")
    chunk_tokens: int = arg(128, "the longest chunk in the reader's tokens")
    limit: int = arg(0, "use only the first N questions (0: all)")
    lora_steps: int = arg(4, "timed LoRA steps for the fine-tuning cost (0: skip)")
    threads: int = arg(2, "PyTorch CPU threads")


def _inputs(args: YourDocsArgs) -> tuple[Path, Path]:
    if len(args.docs) > 1:
        raise SystemExit(f"give one documents folder, got {len(args.docs)}: {[str(d) for d in args.docs]}")
    folder = args.docs[0] if args.docs else None
    if folder is None:
        return sample_folder(), args.questions or sample_questions()
    if args.questions is None:
        raise SystemExit("--questions is required with your own folder: a CSV or JSONL file with question, answer "
                         "and file columns (docs/your_documents.md shows how to write one)")
    return folder, args.questions


def run(args: YourDocsArgs, argv: list[str] | None = None) -> dict:
    """Measure everything and write the report; returns the measured numbers."""
    start = time.perf_counter()
    seed_everything(0)
    folder, qfile = _inputs(args)
    docs = load_folder(folder)
    questions = load_questions(qfile, docs)
    if args.limit:
        questions = questions[:args.limit]
    model, tokenizer = load_model(args.model, device="cpu")
    settings = measure.Settings(k=args.k, chunk_tokens=args.chunk_tokens, lora_steps=args.lora_steps)
    print("indexing the chunks (BM25, MiniLM, hybrid)...")
    index = measure.index_corpus(docs, tokenizer, settings)
    m = {"settings": vars(settings), "chunks": index["chunk_tokens"], "index_seconds": index["seconds"],
         "retrieval": measure.retrieval_runs(index, questions)}
    print(f"reading {len(questions)} questions with {args.model}: closed-book, with RAG, with the oracle...")
    m["reading"] = measure.reading_runs(model, tokenizer, docs, index, questions, settings)
    if args.lora_steps:
        print(f"timing {args.lora_steps} LoRA steps on the corpus...")
        m["lora"] = measure.lora_cost(model, tokenizer, docs, settings, m["reading"]["corpus_tokens"])
    m["run"] = {"corpus": folder.name if args.docs else "the sample, Python 3.11's reference topics",
                "documents": len(docs), "characters": sum(len(d["text"]) for d in docs),
                "kinds": ", ".join(f"{k} {sum(q['kind'] == k for q in questions)}" for k in
                                   sorted({q["kind"] for q in questions})),
                "model": args.model, "machine": cpu_description(),
                "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"),
                "command": command_line("ftrag.yourdocs", argv), "seconds": time.perf_counter() - start}
    args.out.mkdir(parents=True, exist_ok=True)
    images = report.plots(m, args.out)
    (args.out / "report.md").write_text(report.markdown(m, questions, images) + "\n", encoding="utf-8")
    report.write_json(m, args.out / "results.json")
    return m


def main(argv: list[str] | None = None) -> int:
    (args,) = parse(parser_for(YourDocsArgs, prog="python -m ftrag.yourdocs",
                               description="Fine-tune or RAG, measured on your own documents: retrieval, answers "
                                           "closed-book / RAG / oracle, costs, and a report with verdicts."), argv)
    if args.k < 1 or args.limit < 0 or args.lora_steps < 0 or args.threads < 1:
        raise SystemExit("--k and --threads must be >= 1, --limit and --lora-steps >= 0")
    torch.set_num_threads(args.threads)
    with PeakMemory() as memory:
        m = run(args, argv)
    print(f"wrote {args.out / 'report.md'} in {m['run']['seconds']:.0f} s (peak memory {memory.peak_mb:,.0f} MB)")
    for v in report.verdicts(m):
        print(f"- {v['question']} {v['verdict']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
