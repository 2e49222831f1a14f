"""Lesson 03 on a real model: the company dialect's perplexity for SmolLM2-135M-Instruct, three ways.

``python -m ftrag.course.real_dialect`` measures, with lesson 03's memos, retriever and scoring:

- ``base``: dialect perplexity of the first ``--n-test`` test memos, World A perplexity and reading EM (what the
  model knew before: ``dialect.forgetting_scores``);
- ``contexts``: the memos' own perplexity with 1, 2 or 4 BM25-retrieved training memos in front, or 4 random ones
  (lesson 03's section 3, on its first 100 test memos);
- ``lora``: a short LoRA run of continued pretraining on the memos (rank 4 on every linear layer, packed blocks of
  512 tokens, the course's loop), then the same scores and the perplexity of the memos the contexts were tried on.

Perplexities are per token of this model's tokenizer, so they compare within this model (base against context
against LoRA), not with the course model's numbers. The closing-line task and the learn-vs-forget sweep are not
run on this model. Each part is a row of ``--out`` (a :class:`SweepFile`): an interrupted run resumes.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from ftrag import train as ft
from ftrag.cli import arg
from ftrag.course.real_runs import RealRun, command_line
from ftrag.env import seed_everything
from ftrag.files import read_examples
from ftrag.lm import context_perplexity, load_model, pad_id_of
from ftrag.retrieval import BM25Retriever, Chunk
from ftrag.tasks import dialect

DEFAULT_OUT = "results/smollm2/03_dialect_finetuning.json"
N_TEST, N_RAG, POOL = 200, 100, 5000  # lesson 03's parameters
STEPS, BATCH, LR, RANK = 40, 4, 1e-3, 4  # lesson 03's live run: 40 steps of 4 blocks of 512 tokens (~15 min on 2 cores)
CONTEXTS = ("BM25 top 1", "BM25 top 2", "BM25 top 4", "4 random memos")


def memo_contexts(train_memos, rag_memos, seed: int = 0) -> dict[str, list[str]]:
    """Lesson 03's contexts: the k most similar pool memos by the memo's first two lines (most similar last), or
    4 random pool memos, each followed by a blank line."""
    pool = [Chunk(f"memo-{i}", f"memo-{i}", "", "memo", text, 0, 1) for i, text in enumerate(train_memos[:POOL])]
    retriever = BM25Retriever(pool)
    ids, _ = retriever.search(["\n".join(m.split("\n")[:2]) for m in rag_memos], 4)
    out = {f"BM25 top {k}": ["\n\n".join(pool[j].text for j in row[:k][::-1]) + "\n\n" for row in ids]
           for k in (1, 2, 4)}
    rng = random.Random(seed)
    out["4 random memos"] = ["\n\n".join(rng.sample(train_memos[:POOL], 4)) + "\n\n" for _ in rag_memos]
    return out


def sweep(out: str | Path = DEFAULT_OUT, *, model_name: str = "smollm2", n_test: int = N_TEST, n_rag: int = N_RAG,
          steps: int = STEPS, seed: int = 0) -> dict:
    """The three parts on lesson 03's memos; rows already in ``out`` with the same budget are kept."""
    train_memos = read_examples("dialect", "train.txt.xz")
    test_memos = read_examples("dialect", "test.txt")
    if not 1 <= n_rag <= n_test <= len(test_memos):
        raise ValueError(f"need 1 <= n_rag <= n_test <= {len(test_memos)}, got n_rag={n_rag}, n_test={n_test}")
    rag_memos = test_memos[:n_rag]
    budget = {"model": model_name, "n_test": n_test, "n_rag": n_rag, "steps": steps, "batch_size": BATCH, "lr": LR,
              "rank": RANK, "block_size": dialect.BLOCK_SIZE, "seed": seed}
    run = RealRun(out, budget, f"python -m ftrag.course.real_dialect --model {model_name} --n-test {n_test} "
                               f"--n-rag {n_rag} --steps {steps} --out {Path(out).as_posix()}")
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
    if run.todo("lora"):
        seed_everything(seed)
        model, tokenizer = load_model(model_name, device="cpu")
        examples = dialect.training_examples(tokenizer, steps, BATCH)
        peft_model = ft.lora_model(model, RANK, seed=seed)  # a real model has rows for every token it will see
        result = ft.train(peft_model, examples, ft.TrainConfig(steps=steps, batch_size=BATCH, lr=LR,
                                                               warmup_steps=min(5, steps - 1), seed=seed),
                          pad_id=pad_id_of(tokenizer))
        scores = dialect.forgetting_scores(peft_model, tokenizer, n_test=n_test, n_heldout=n_small, n_rc=n_small)
        rows.add("lora", {**scores, "same_memos_ppl": context_perplexity(peft_model, tokenizer, rag_memos),
                          "train_seconds": round(result.seconds, 1), "tokens": result.tokens,
                          "tokens_per_second": round(result.tokens / result.seconds, 1),
                          "first_loss": result.losses[0], "final_loss": result.final_loss,
                          "trained_percent": 100 * result.trainable_share})
    return run.finish(guide_keys)


def guide_keys(record: dict) -> dict[str, float]:
    """The run's numbers under lesson 03's keys (``base_dialect_ppl``, ``best_rag_context_ppl``...)."""
    base, contexts, lora = (record["rows"][k] for k in ("base", "contexts", "lora"))
    best = min(CONTEXTS, key=lambda name: contexts[name])
    return {"base_dialect_ppl": base["dialect_ppl"], "lora_dialect_ppl": lora["dialect_ppl"],
            "best_rag_context_ppl": contexts[best], "lora_ppl_same_memos": lora["same_memos_ppl"],
            "base_ppl_same_memos": base["no_context_ppl"],
            "base_world_a_ppl": base["world_a_ppl"], "lora_world_a_ppl": lora["world_a_ppl"],
            "base_rc_em": base["rc_em"], "lora_rc_em": lora["rc_em"],
            "lora_trained_percent": lora["trained_percent"], "lora_tokens_per_second": lora["tokens_per_second"]}


@dataclass
class RealDialectArgs:
    """The flags of ``python -m ftrag.course.real_dialect``."""

    model: str = arg("smollm2", "the model (a name load_model accepts)")
    n_test: int = arg(N_TEST, "test memos for perplexity")
    n_rag: int = arg(N_RAG, "test memos the retrieved contexts are tried on")
    steps: int = arg(STEPS, f"LoRA steps of {BATCH} blocks of 512 tokens")
    threads: int = arg(2, "torch CPU threads (the recorded run: 2)")
    out: str = arg(DEFAULT_OUT, "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.real_dialect``: lesson 03's dialect perplexities on a real model."""
    return command_line(RealDialectArgs, argv, prog="python -m ftrag.course.real_dialect",
                        description="Lesson 03 on a real model: dialect perplexity without context, with retrieved "
                                    "memos in the context, and after a short LoRA run of continued pretraining.",
                        run=lambda a: sweep(a.out, model_name=a.model, n_test=a.n_test, n_rag=a.n_rag,
                                            steps=a.steps))


if __name__ == "__main__":
    raise SystemExit(main())
