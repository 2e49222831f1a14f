"""Lesson 03 on a real model: the company dialect's perplexity for SmolLM2-135M-Instruct, three ways.

``python -m ftrag.course.real_dialect`` measures, with lesson 03's memos, retriever and scoring:

- ``base``: dialect perplexity of the first ``--n-test`` test memos, World A perplexity and reading EM (what the
  model knew before: ``dialect.forgetting_scores``);
- ``contexts``: the memos' own perplexity with 1, 2 or 4 BM25-retrieved training memos in front, or 4 random ones
  (lesson 03's section 3, on its first 100 test memos);
- ``lora``: a short LoRA run of continued pretraining on the memos (rank 4 on every linear layer, packed blocks of
  512 tokens, the course's loop), then the same scores and the perplexity of the memos the contexts were tried on.

- ``closing``: lesson 03's closing-line task (section 7) on the first ``--n-closing`` test memos: which of the twelve
  closing phrases the base model finds most likely, alone, after BM25's top 4 memos, after the top 4 memos of the
  same type and priority (a metadata filter), after the glossary's rule; and the no-model baselines, copying the
  closing line of BM25's top memo or of the top same-header memo. Each model is scored by both of lesson 03's rules
  (summed and per-token log-probability);
- ``closing, LoRA``: the ``lora`` row's LoRA run scored on the closing lines (trained again, with the same seed and
  blocks, when the ``lora`` row was resumed: its loss must then match the row's). On this model it stands in for
  lesson 03's long run, as in the notebook.

Perplexities are per token of this model's tokenizer, so they compare within this model (base against context
against LoRA), not with the course model's numbers. The learn-vs-forget sweep is not run on this model. Each part
is a row of ``--out`` (a :class:`SweepFile`): an interrupted run resumes.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag import train as ft
from ftrag.cli import arg
from ftrag.course.real_runs import RealRun, command_line
from ftrag.env import seed_everything
from ftrag.files import data_path, read_examples
from ftrag.lm import context_perplexity, exact_match, load_model, pad_id_of
from ftrag.retrieval import BM25Retriever, Chunk
from ftrag.tasks import dialect
from ftrag.world.memos import CLOSING, split_closing

DEFAULT_OUT = "results/smollm2/03_dialect_finetuning.json"
N_TEST, N_RAG, N_CLOSING, POOL = 200, 100, 100, 5000  # lesson 03's parameters
STEPS, BATCH, LR, RANK = 40, 4, 1e-3, 4  # lesson 03's live run: 40 steps of 4 blocks of 512 tokens (~15 min on 2 cores)
CONTEXTS = ("BM25 top 1", "BM25 top 2", "BM25 top 4", "4 random memos")


def memo_pool(train_memos) -> list[Chunk]:
    """Lesson 03's retrieval pool: the first ``POOL`` training memos, one chunk each."""
    return [Chunk(f"memo-{i}", f"memo-{i}", "", "memo", text, 0, 1) for i, text in enumerate(train_memos[:POOL])]


def memo_queries(memos) -> list[str]:
    """Each memo's query: its first two lines (the header and the first body line)."""
    return ["\n".join(m.split("\n")[:2]) for m in memos]


def memo_contexts(train_memos, rag_memos, seed: int = 0) -> dict[str, list[str]]:
    """Lesson 03's contexts: the k most similar pool memos by the memo's first two lines (most similar last), or
    4 random pool memos, each followed by a blank line."""
    pool = memo_pool(train_memos)
    ids, _ = BM25Retriever(pool).search(memo_queries(rag_memos), 4)
    out = {f"BM25 top {k}": ["\n\n".join(pool[j].text for j in row[:k][::-1]) + "\n\n" for row in ids]
           for k in (1, 2, 4)}
    rng = random.Random(seed)
    out["4 random memos"] = ["\n\n".join(rng.sample(train_memos[:POOL], 4)) + "\n\n" for _ in rag_memos]
    return out


def header_cell(memo: str) -> tuple[str, str]:
    """The memo's (type, priority), from its header line: the pair that fixes its closing line."""
    return tuple(part.strip() for part in memo.split("\n", 1)[0].split("::")[1:3])


def closing_contexts(train_memos, memos, k: int = 4) -> dict[str, list]:
    """Lesson 03's section 7 inputs for ``memos``: BM25's top ``k`` pool memos and the top ``k`` of the same type and
    priority (most similar last), the glossary's rule, and the closing lines the no-model baselines copy."""
    pool, queries = memo_pool(train_memos), memo_queries(memos)
    ids = BM25Retriever(pool).search(queries, k)[0]
    cells = {cell: BM25Retriever([c for c in pool if header_cell(c.text) == cell]) for cell in CLOSING}
    same = [cells[header_cell(m)].search([q], k)[0][0] for m, q in zip(memos, queries, strict=True)]
    same_chunks = [[cells[header_cell(m)].chunks[j] for j in row] for m, row in zip(memos, same, strict=True)]
    glossary = data_path("dialect", "glossary.md").read_text()
    rule = glossary[glossary.index("## closing_line_rule"):glossary.index("Invented terms")].strip() + "\n\n"
    return {"BM25 top 4": ["\n\n".join(pool[j].text for j in row[::-1]) + "\n\n" for row in ids],
            "same-header top 4": ["\n\n".join(c.text for c in row[::-1]) + "\n\n" for row in same_chunks],
            "glossary rule": [rule] * len(memos),
            "copy the top BM25 memo's line": [split_closing(pool[row[0]].text)[1] for row in ids],
            "copy the top same-header memo's": [split_closing(row[0].text)[1] for row in same_chunks]}


def closing_scores(model, tokenizer, memos, contexts: dict[str, list] | None = None) -> dict:
    """Closing-line exact match of ``model`` on ``memos`` under both scoring rules, alone and (``contexts``) with
    each context of :func:`closing_contexts`, with the share of picks of the right type and of the right priority."""
    heads, truth = dialect.split_memos(memos)
    cell_of = {phrase: cell for cell, phrase in CLOSING.items()}
    out = {}
    for name, ctx in [("alone", None), *[(n, c) for n, c in (contexts or {}).items() if not n.startswith("copy")]]:
        both = dialect.closing_picks(model, tokenizer, heads, ctx)
        for rule, picks in both.items():
            key = name if rule == "sum" else f"{name}, per token"
            pairs = [(cell_of[p], cell_of[t]) for p, t in zip(picks, truth, strict=True)]
            out[key] = {"em": exact_match(picks, truth), "type_share": sum(p[0] == t[0] for p, t in pairs) / len(truth),
                        "priority_share": sum(p[1] == t[1] for p, t in pairs) / len(truth)}
    return out


def sweep(out: str | Path = DEFAULT_OUT, *, model_name: str = "smollm2", n_test: int = N_TEST, n_rag: int = N_RAG,
          n_closing: int = N_CLOSING, steps: int = STEPS, seed: int = 0) -> dict:
    """The three parts on lesson 03's memos; rows already in ``out`` with the same budget are kept."""
    train_memos = read_examples("dialect", "train.txt.xz")
    test_memos = read_examples("dialect", "test.txt")
    if not 1 <= n_rag <= n_test <= len(test_memos):
        raise ValueError(f"need 1 <= n_rag <= n_test <= {len(test_memos)}, got n_rag={n_rag}, n_test={n_test}")
    if not 1 <= n_closing <= len(test_memos):
        raise ValueError(f"need 1 <= n_closing <= {len(test_memos)}, got n_closing={n_closing}")
    rag_memos = test_memos[:n_rag]
    budget = {"model": model_name, "n_test": n_test, "n_rag": n_rag, "steps": steps, "batch_size": BATCH, "lr": LR,
              "rank": RANK, "block_size": dialect.BLOCK_SIZE, "seed": seed}
    closing_flag = f" --n-closing {n_closing}" if n_closing != N_CLOSING else ""
    run = RealRun(out, budget, f"python -m ftrag.course.real_dialect --model {model_name} --n-test {n_test} "
                               f"--n-rag {n_rag}{closing_flag} --steps {steps} --out {Path(out).as_posix()}")
    closing_memos = test_memos[:n_closing]  # (the closing rows record their own count, outside the budget)
    rows = run.rows
    n_small = min(100, n_test)  # World A texts and reading questions, as lesson 03 scores them
    if run.todo("base"):
        seed_everything(seed)
        model, tokenizer = load_model(model_name, device="cpu")
        t0 = time.perf_counter()
        scores = dialect.forgetting_scores(model, tokenizer, n_test=n_test, n_heldout=n_small, n_rc=n_small)
        rows.add("base", {**scores, "no_context_ppl": context_perplexity(model, tokenizer, rag_memos),
                          "seconds": round(time.perf_counter() - t0, 1)})
    if run.todo("contexts"):
        model, tokenizer = load_model(model_name, device="cpu")
        t0 = time.perf_counter()
        ppl = {name: context_perplexity(model, tokenizer, rag_memos, ctx)
               for name, ctx in memo_contexts(train_memos, rag_memos, seed).items()}
        rows.add("contexts", {**ppl, "seconds": round(time.perf_counter() - t0, 1)})
    trained = None  # the LoRA run of this process, if it made the lora row: the closing rows score it too
    if run.todo("lora"):
        trained = peft_model, tokenizer, result = _lora_run(model_name, steps, seed)
        scores = dialect.forgetting_scores(peft_model, tokenizer, n_test=n_test, n_heldout=n_small, n_rc=n_small)
        rows.add("lora", {**scores, "same_memos_ppl": context_perplexity(peft_model, tokenizer, rag_memos),
                          "train_seconds": round(result.seconds, 1), "tokens": result.tokens,
                          "tokens_per_second": round(result.tokens / result.seconds, 1),
                          "first_loss": result.losses[0], "final_loss": result.final_loss,
                          "trained_percent": 100 * result.trainable_share})
    todo = [name for name in ("closing", "closing, LoRA") if run.todo(name)]
    if "closing" in todo:
        model, tokenizer = load_model(model_name, device="cpu")
        t0 = time.perf_counter()
        contexts = closing_contexts(train_memos, closing_memos)
        truth = dialect.split_memos(closing_memos)[1]
        copies = {name: {"em": exact_match(lines, truth)} for name, lines in contexts.items()
                  if name.startswith("copy")}
        rows.add("closing", {**copies, **closing_scores(model, tokenizer, closing_memos, contexts),
                             "n": n_closing, "seconds": round(time.perf_counter() - t0, 1),
                             "threads": torch.get_num_threads()})  # (a resumed record's rows may differ)
    if "closing, LoRA" in todo:
        peft_model, tokenizer, result = trained or _lora_run(model_name, steps, seed)  # a resumed record: train again
        recorded = rows.rows["lora"]["final_loss"]
        if abs(result.final_loss - recorded) > 1e-3 * recorded:
            print(f"warning: the LoRA run retrained for the closing lines ended at loss {result.final_loss:.4f}, "
                  f"the lora row's at {recorded:.4f}: not the same run", flush=True)
        t0 = time.perf_counter()
        rows.add("closing, LoRA", {**closing_scores(peft_model, tokenizer, closing_memos), "n": n_closing,
                                   "final_loss": result.final_loss, "train_seconds": round(result.seconds, 1),
                                   "seconds": round(time.perf_counter() - t0, 1), "threads": torch.get_num_threads()})
    return run.finish(guide_keys)


def _lora_run(model_name: str, steps: int, seed: int):
    """Lesson 03's live LoRA run (rank 4, every linear layer) on the memos: (peft model, tokenizer, TrainResult)."""
    seed_everything(seed)
    model, tokenizer = load_model(model_name, device="cpu")
    examples = dialect.training_examples(tokenizer, steps, BATCH)
    peft_model = ft.lora_model(model, RANK, seed=seed)  # a real model has rows for every token it will see
    result = ft.train(peft_model, examples, ft.TrainConfig(steps=steps, batch_size=BATCH, lr=LR,
                                                           warmup_steps=min(5, steps - 1), seed=seed),
                      pad_id=pad_id_of(tokenizer))
    return peft_model, tokenizer, result


def guide_keys(record: dict) -> dict[str, float]:
    """The run's numbers under lesson 03's keys (``base_dialect_ppl``, ``best_rag_context_ppl``...)."""
    base, contexts, lora = (record["rows"][k] for k in ("base", "contexts", "lora"))
    best = min(CONTEXTS, key=lambda name: contexts[name])
    return {"base_dialect_ppl": base["dialect_ppl"], "lora_dialect_ppl": lora["dialect_ppl"],
            "best_rag_context_ppl": contexts[best], "lora_ppl_same_memos": lora["same_memos_ppl"],
            "base_ppl_same_memos": base["no_context_ppl"],
            "base_world_a_ppl": base["world_a_ppl"], "lora_world_a_ppl": lora["world_a_ppl"],
            "base_rc_em": base["rc_em"], "lora_rc_em": lora["rc_em"],
            "lora_trained_percent": lora["trained_percent"], "lora_tokens_per_second": lora["tokens_per_second"],
            **closing_keys(record["rows"])}


def closing_keys(rows: dict) -> dict[str, float]:
    """Lesson 03's closing-line keys from the ``closing`` rows (none before they are made); the short LoRA run
    stands in for the long run (``closing_em_finetuned``)."""
    if "closing" not in rows or "closing, LoRA" not in rows:
        return {}
    base, lora = rows["closing"], rows["closing, LoRA"]
    return {"closing_em_base": base["alone"]["em"], "closing_em_rag": base["BM25 top 4"]["em"],
            "closing_em_copy_top": base["copy the top BM25 memo's line"]["em"],
            "closing_em_same_header_context": base["same-header top 4"]["em"],
            "closing_em_same_header_context_best": max(base["same-header top 4"]["em"],
                                                       base["same-header top 4, per token"]["em"]),
            "closing_em_glossary": base["glossary rule"]["em"],
            "closing_em_finetuned": lora["alone"]["em"],
            "closing_em_finetuned_per_token": lora["alone, per token"]["em"],
            "closing_type_share_finetuned": lora["alone"]["type_share"],
            "closing_priority_share_finetuned": lora["alone"]["priority_share"]}


@dataclass
class RealDialectArgs:
    """The flags of ``python -m ftrag.course.real_dialect``."""

    model: str = arg("smollm2", "the model (a name load_model accepts)")
    n_test: int = arg(N_TEST, "test memos for perplexity")
    n_rag: int = arg(N_RAG, "test memos the retrieved contexts are tried on")
    n_closing: int = arg(N_CLOSING, "test memos of the closing-line task")
    steps: int = arg(STEPS, f"LoRA steps of {BATCH} blocks of 512 tokens")
    threads: int = arg(2, "torch CPU threads (the recorded run: 2)")
    out: str = arg(DEFAULT_OUT, "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.real_dialect``: lesson 03's dialect perplexities on a real model."""
    return command_line(RealDialectArgs, argv, prog="python -m ftrag.course.real_dialect",
                        description="Lesson 03 on a real model: dialect perplexity without context, with retrieved "
                                    "memos in the context, and after a short LoRA run of continued pretraining; "
                                    "the closing-line task.",
                        run=lambda a: sweep(a.out, model_name=a.model, n_test=a.n_test, n_rag=a.n_rag,
                                            n_closing=a.n_closing, steps=a.steps))


if __name__ == "__main__":
    raise SystemExit(main())
