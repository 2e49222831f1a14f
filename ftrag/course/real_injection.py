"""Lesson 05's fine-tuning arms on a real model: SmolLM2-135M-Instruct trained on the facts, on a budget a 2-core
CPU can pay.

``python -m ftrag.course.real_injection`` uses lesson 05's fact set (``fact_set(seed=0)``), its arms
(``ftrag.tasks.injection.ARMS``: the same texts, World A replay share and early stopping on the validation
documents) and its retrieved passages, and changes three things: the model, the token budget and full fine-tuning's
learning rate. The course model's text arms read 300 steps x 8 blocks x 256 tokens (614k tokens); at about 100
training tokens per second on 2 cores one such arm would take 1.7 hours on SmolLM2, so each text arm here trains
``--steps`` x ``--batch-size`` blocks (default 60 x 4 x 256 = 61k tokens, a tenth: about one pass over the mixed
arm's text), and each question arm (``memorised questions``, ``question wordings``) ``--steps`` x 16 chat examples
(about the same number of tokens; the course model's took 150 x 16). LoRA runs at the rate the course model's grid
chose for it (3e-3); full fine-tuning at 1e-4, a tenth of the course model's 1e-3, since a pretrained model's weights
are not those of a model trained from scratch on one world. Neither rate was tuned on this model (no grid), so each
arm is one run at one rate. The text arms and the wordings arm are scored on the validation questions every
``--eval-every`` steps (the best step is kept); the memorised arm is not (its point is the strings). The
question/answer pairs are in the model's chat format, the format it is asked in (``injection.qa_text``). RAFT's reader
arms are not run on this model.

Two of section 6's updates follow their arms, as on the course model: the k = 10 arm trains on twenty changed facts'
new documents (a third of its steps, with replay), and the memorised arm on the one changed price's new document
(``fact_change.update_fact``: its 10 steps, at ``--batch-size`` blocks per step and the arm's rate): what it answers
before and after, and what the update cost in tokens and seconds. With the memorised arm in ``--arms``, a row of it
recorded before its one-fact update is trained again for it: the record keeps its scores when the retrained arm's
final loss equals the recorded one (within 0.1%; else the row is scored again), and stores that loss beside. A run
stopped during the update trains the arm again (from its last save if the stop came in its training).

Every row (the untrained model first, then each arm) is scored on lesson 05's 266 evaluation questions the same way:
closed-book (the question alone) and with RAG's passage (BM25's top document: the row's model as the reader), by
containment (the reply contains the answer: an instruct model answers in sentences), strict exact match and token F1,
with the hits per question for paired intervals; multiple choice among values of trained facts; World A perplexity
and reading (what training cost). ``values`` holds lesson 05's keys (containment where the course model's hold exact
match; ``answer_metric`` says so).

Each row is saved when it is done, and an arm's training saves itself every 10 steps beside the record
(``checkpoint_path``: its trainable weights, AdamW's state, the data order; full fine-tuning's take 1.6 GB), so an
interrupted run, started again with the same command, resumes the arm at its last save with the losses it would
have had, then the next rows. The record names the machine, the threads and the time.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag import stats
from ftrag.cli import arg
from ftrag.course.real_runs import ANSWER_METRIC, RealRun, command_line, metric_key
from ftrag.env import seed_everything
from ftrag.lm import answer_questions, contains_answer, load_model, normalize_answer, world_a_scores
from ftrag.retrieval.rag import answer_with_passages
from ftrag.tasks.fact_change import UPDATE_STEPS, change_targets, rag_update, update_fact, update_facts
from ftrag.tasks.facts import fact_set, rag_passages, trained_facts
from ftrag.tasks.injection import ARMS, BLOCK_SIZE, LR, record_rows, saved_bytes, train_arm
from ftrag.tasks.knowledge_scores import hits_string
from ftrag.tasks.multiple_choice import mc_accuracy, options_for
from ftrag.train import count_parameters

DEFAULT_OUT = "results/smollm2/05_injection.json"
DEFAULT_ARMS = ("mixed, k=10, LoRA", "documents, LoRA",  # the strongest arm with replay; continued pretraining ...
                "documents, full", "memorised questions", "question wordings",  # ... full; the question arms;
                "mixed, k=1", "mixed, k=10")  # the paraphrase curve's ends (full fine-tuning, with replay)
STEPS, BATCH_SIZE, EVAL_EVERY = 60, 4, 30
FULL_LR = 1e-4  # full fine-tuning of a pretrained model: a tenth of the course model's 1e-3 (not tuned: no grid here)
QA_BATCH_SIZE = 16  # question arms: --steps x 16 chat examples of ~70 tokens, about the text arms' token budget
TRAINABLE = ("texts", "memorise", "wordings")  # the arms this command trains (RAFT's reader arms: not yet)
UPDATED_ARM = "mixed, k=10"  # the arm lesson 05 updates with twenty changed facts ...
UPDATE_SHARE = 3  # ... for a third of the arm's steps (the course model's: 100 steps after the arm's 300)
ONE_FACT_ARM = "memorised questions"  # the arm that takes section 6's one changed price (the course model's too) ...
ONE_FACT_STEPS = UPDATE_STEPS  # ... for the course model's 10 steps
MAX_NEW_TOKENS = 24  # a short sentence: "The outage lasted 7 hours." (a trained arm answers with the value and stops)


def _answer_scores(predictions: Sequence[str], answers: Sequence[str], prefix: str) -> dict:
    contains = [contains_answer([p], [a]) == 1.0 for p, a in zip(predictions, answers, strict=True)]
    strict = [normalize_answer(p) == normalize_answer(a) for p, a in zip(predictions, answers, strict=True)]
    return {f"{prefix}contains": round(sum(contains) / len(contains), 4),
            f"{prefix}contains_hits": hits_string(contains),
            f"{prefix}strict_em": round(sum(strict) / len(strict), 4), f"{prefix}strict_hits": hits_string(strict),
            f"{prefix}examples": [[a, p] for a, p in zip(answers[:3], predictions[:3], strict=True)]}


def row_scores(model, tokenizer, facts, rows_qa: Sequence[dict], rag: Sequence[Sequence[str]]) -> dict:
    """Closed-book and RAG-reader answers (containment, strict EM), multiple choice, World A."""
    questions, answers = [r["question"] for r in rows_qa], [r["answer"] for r in rows_qa]
    t0 = time.perf_counter()
    closed = answer_questions(model, tokenizer, questions, max_new_tokens=MAX_NEW_TOKENS)
    read = answer_with_passages(model, tokenizer, questions, rag, max_new_tokens=MAX_NEW_TOKENS)
    _, picks = mc_accuracy(model, tokenizer, rows_qa, options_for(rows_qa, trained_facts(facts)))
    mc = [normalize_answer(p) == normalize_answer(a) for p, a in zip(picks, answers, strict=True)]
    out = {**_answer_scores(closed, answers, ""), **_answer_scores(read, answers, "rag_"),
           "mc": round(sum(mc) / len(mc), 4), "mc_hits": hits_string(mc), **world_a_scores(model, tokenizer),
           "score_seconds": round(time.perf_counter() - t0, 1), "n": len(rows_qa)}
    return out


def checkpoint_path(out: str | Path, arm: str) -> Path:
    """Where an arm's training saves itself every 10 steps, beside the record (git ignores it; a finished arm deletes
    it): the same command, run again after a stop, goes on from the last save instead of retraining the arm."""
    slug = re.sub(r"[^a-z0-9]+", "-", arm.lower()).strip("-")
    return Path(out).with_name(f"{Path(out).stem}.{slug}.ckpt.pt")


def sweep(out: str | Path = DEFAULT_OUT, *, model_name: str = "smollm2", arms: Sequence[str] = DEFAULT_ARMS,
          steps: int = STEPS, batch_size: int = BATCH_SIZE, eval_every: int = EVAL_EVERY, seed: int = 0,
          n_questions: int | None = None) -> dict:
    """The untrained model's row, then each arm of ``arms``, scored on the first ``n_questions`` evaluation
    questions (None: all), the k = 10 arm then updated with twenty changed facts and the memorised arm with one; rows
    already in ``out`` with the same budget are kept (a memorised row without its one-fact update: see the module's
    docstring)."""
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm {unknown[0]!r}; the arms are {list(ARMS)}")
    untrained = [a for a in arms if ARMS[a]["data"] not in TRAINABLE]
    if untrained:
        raise ValueError(f"{untrained[0]!r} is not an arm this command trains; it trains "
                         f"{[a for a, s in ARMS.items() if s['data'] in TRAINABLE]}")
    if not 1 <= eval_every <= steps:
        raise ValueError(f"eval_every must be between 1 and steps ({steps}), got {eval_every}")
    facts = fact_set(seed=seed)
    if n_questions is not None and not 1 <= n_questions <= len(facts.eval_qa):
        raise ValueError(f"n_questions must be between 1 and {len(facts.eval_qa)}, got {n_questions}")
    rows_qa = facts.eval_qa[:n_questions]
    lr = LR["lora"]  # the budget's rate: LoRA's; full fine-tuning's is FULL_LR, recorded in its rows
    budget = {"model": model_name, "seed": seed, "steps": steps, "batch_size": batch_size, "block_size": BLOCK_SIZE,
              "eval_every": eval_every, "lr": lr, "max_new_tokens": MAX_NEW_TOKENS, "n_questions": len(rows_qa)}
    sample = f" --n-questions {n_questions}" if n_questions is not None else ""
    arm_flags = " ".join(f'"{a}"' for a in arms)
    run = RealRun(out, budget, f"python -m ftrag.course.real_injection --model {model_name} --arms {arm_flags} "
                               f"--steps {steps} --batch-size {batch_size} --eval-every {eval_every}{sample} "
                               f"--out {Path(out).as_posix()}", answer_metric=ANSWER_METRIC,
                  fact_set={"eval_docs": [d["doc_id"] for d in facts.eval_docs],
                            "valid_docs": [d["doc_id"] for d in facts.valid_docs]})
    rag = rag_passages(facts, rows_qa)
    for name in ("closed-book", *arms):
        recorded = run.rows.rows.get(name)  # the memorised arm recorded before its one-fact update: train it again
        if not (run.todo(name) or (name == ONE_FACT_ARM and run.todo_part(name, "one_fact_update"))):
            continue
        seed_everything(seed)
        model, tokenizer = load_model(model_name, device="cpu")
        row: dict = {}
        if name != "closed-book":
            model, row = trained_row(model, tokenizer, facts, name, out=out, seed=seed, lr=lr, steps=steps,
                                     batch_size=batch_size, eval_every=eval_every)
        if recorded and same_arm(recorded, row):  # keep the recorded scores: the retrained arm is the same arm
            row = {**recorded, "one_fact_update": {"arm_final_loss_retrained": row["final_loss"],
                                                   "arm_seconds_retrained": row["arm_seconds_to_trained"]}}
        else:
            row.update(row_scores(model, tokenizer, facts, rows_qa, rag))
        if name == UPDATED_ARM:
            row["update"] = fact_update(model, tokenizer, facts, rows_qa, model_name, seed=seed, lr=row["lr"],
                                        steps=max(1, steps // UPDATE_SHARE), batch_size=row["batch_size"])
        if name == ONE_FACT_ARM:  # section 6's one changed price, at the text arms' blocks per step
            one = update_fact(model, tokenizer, facts, ARMS[name]["method"], seed=seed, lr=row["lr"],
                              steps=ONE_FACT_STEPS, batch_size=batch_size)
            row["one_fact_update"] = {**row.get("one_fact_update", {}), **one, "lr": row["lr"],
                                      "threads": torch.get_num_threads()}
        run.rows.add(name, row)
        print(f"{name}: closed-book contains {row['contains']:.3f} (strict {row['strict_em']:.3f}), with RAG's "
              f"passage {row['rag_contains']:.3f}, MC {row['mc']:.3f}, World A ppl {row['world_a_ppl']:.2f}",
              flush=True)
        del model
        gc.collect()
    return run.finish(guide_keys)


def same_arm(recorded: dict, retrained: dict) -> bool:
    """Whether an arm trained again ended where its recorded row did (final loss within 0.1%): if not (another thread
    count or library version), the recorded scores would describe another model, so the caller scores it again."""
    same = abs(retrained["final_loss"] - recorded["final_loss"]) <= 1e-3 * max(1.0, abs(recorded["final_loss"]))
    if not same:
        print(f"the arm trained again ended at loss {retrained['final_loss']}, its record at "
              f"{recorded['final_loss']}: scoring it again", flush=True)
    return same


def trained_row(model, tokenizer, facts, name: str, *, out, seed: int, lr: float, steps: int, batch_size: int,
                eval_every: int) -> tuple:
    """Train the arm ``name`` on the command's budget (its checkpoint beside ``out``); the model and the row's
    training fields (method, rate, steps, kept step, tokens, losses, time, bytes saved)."""
    t0 = time.perf_counter()
    spec = ARMS[name]
    arm_lr = lr if spec["method"] == "lora" else FULL_LR
    arm_batch = batch_size if spec["data"] == "texts" else QA_BATCH_SIZE
    model, result = train_arm(model, tokenizer, facts, spec, seed=seed, progress=True, lr=arm_lr,
                              budget={"steps": steps, "batch_size": arm_batch, "eval_every": eval_every},
                              checkpoint=checkpoint_path(out, name))
    return model, {**spec, "lr": arm_lr, "batch_size": arm_batch, "threads": torch.get_num_threads(),
                   "trainable": count_parameters(model)[0], "steps": len(result.losses),
                   "selected_step": result.selected_step, "curve": result.curve, "tokens": result.tokens,
                   "first_loss": round(result.losses[0], 4), "final_loss": round(result.final_loss, 4),
                   "train_seconds": round(result.seconds, 1),
                   "arm_seconds_to_trained": round(time.perf_counter() - t0, 1), "saved_bytes": saved_bytes(model)}


def fact_update(model, tokenizer, facts, rows_qa: Sequence[dict], model_name: str, *, seed: int, lr: float,
                steps: int, batch_size: int) -> dict:
    """Lesson 05's twenty changed facts: the trained arm ``model`` trains on their new documents with replay
    (``fact_change.update_facts``: scored on the 40 questions about them and on ``rows_qa``'s other questions, before
    and after), and the untrained model reads BM25's top document before and after they are replaced (RAG's side).
    The per-question new-value hits of both are kept for a paired interval (``new_hits``, ``rag_new_hits``)."""
    targets = change_targets(facts, seed=seed)
    update = update_facts(model, tokenizer, facts, targets, "full", seed=seed, lr=lr, steps=steps,
                          batch_size=batch_size, eval_rows=rows_qa)
    base, base_tokenizer = load_model(model_name, device="cpu")
    rag = rag_update(base, base_tokenizer, facts, targets)
    return {**update, "lr": lr, "batch_size": batch_size, "rag_before": rag["before"], "rag_after": rag["after"],
            "rag_answers_after": rag["answers_after"], "rag_new_hits": rag["new_hits"]}


ARM_KEYS = {"mixed, k=10, LoRA": "mixed_k10_lora", "documents, LoRA": "docs_lora",  # lesson 05's key for each arm
            "documents, full": "docs_full", "10 paraphrases, full": "paraphrases_full", "mixed, k=1": "mixed_k1",
            "mixed, k=5": "mixed_k5", "mixed, k=10": "mixed_k10", "mixed, k=10, no replay": "mixed_k10_no_replay",
            "question wordings": "wordings"}


def guide_keys(record: dict) -> dict[str, float]:
    """The run's numbers under lesson 05's keys, where they measure the same thing (the EM keys hold the file's
    ``answer_metric``): each arm's closed-book score and multiple choice, the untrained model's multiple choice
    and World A, and RAG (the untrained model reading BM25's top document, this run's answers) minus the best arm
    trained here, with its paired 95% interval over the questions. The record's ``rag_em`` is
    ``ftrag.course.real_facts``'s (a longer answer budget), so it is not repeated here."""
    rows, metric = record["rows"], metric_key(record)
    base = rows["closed-book"]
    keys = {"closed_book_mc": base["mc"], "base_world_a_ppl": base["world_a_ppl"]}
    hits = {"contains": "contains_hits", "strict_em": "strict_hits"}[metric]
    trained = [name for name in ARM_KEYS if name in rows]
    for name in trained:  # (not World A perplexity: this model never read World A, so the replay blocks teach it
        # World A and the number falls; it does not measure forgetting as lesson 05's World A keys do)
        keys.update({f"{ARM_KEYS[name]}_em": rows[name][metric], f"{ARM_KEYS[name]}_mc": rows[name]["mc"]})
    if "memorised questions" in rows:  # trained on the lexical questions' own strings, asked again and reworded
        mem = record_rows(record, facts_rows(record))["memorised questions"]
        keys.update(memorised_em_trained_wording=mem["em_lexical"], memorised_em_reworded=mem["em_paraphrased"])
    if "mixed, k=1" in rows and "mixed, k=10" in rows:  # the paraphrase curve: 10 renderings per document minus 1
        gain_em = stats.paired_difference(rows["mixed, k=10"][hits], rows["mixed, k=1"][hits])
        gain_mc = stats.paired_difference(rows["mixed, k=10"]["mc_hits"], rows["mixed, k=1"]["mc_hits"])
        keys.update(mixed_k10_em_gain=gain_em[0], mixed_k10_em_gain_low=gain_em[1], mixed_k10_em_gain_high=gain_em[2],
                    mixed_k10_mc_gain_low=gain_mc[1])
    update = rows.get(UPDATED_ARM, {}).get("update")
    if update:  # twenty facts changed: the fine-tuned arm trained on their new documents, RAG reading them
        asked = len(update["questions"])
        gap = stats.paired_difference(update["rag_new_hits"], update["new_hits"])
        keys.update(ft_update_unchanged_em_before=update["unchanged_em_before"],
                    ft_update_unchanged_em_after=update["unchanged_em_after"],
                    ft_update_per_fact_tokens_20=update["update_tokens"] / len(update["facts"]),
                    changed_facts_rag_new=update["rag_after"]["new"] / asked,
                    changed_facts_ft_new=update["after"]["new"] / asked,
                    changed_facts_ft_old=update["after"]["old"] / asked, changed_facts_rag_minus_ft_new=gap[0],
                    changed_facts_rag_minus_ft_new_low=gap[1], changed_facts_rag_minus_ft_new_high=gap[2])
    one = rows.get(ONE_FACT_ARM, {}).get("one_fact_update")
    if one:  # section 6's one changed price on the memorised arm: what the update cost
        keys.update(ft_update_fact_tokens=one["update_tokens"], ft_update_fact_seconds=one["update_seconds"])
    if trained:  # the arms that teach facts (lesson 05's best arm: memorised questions aside)
        best = max(trained, key=lambda n: rows[n][metric])
        gap = stats.paired_difference(base[f"rag_{hits}"], rows[best][hits])
        keys.update(best_ft_em=rows[best][metric], rag_minus_best_ft=gap[0], rag_minus_best_ft_low=gap[1],
                    rag_minus_best_ft_high=gap[2])
    return {k: round(float(v), 4) for k, v in keys.items()}


def facts_rows(record: dict) -> list[dict]:
    """The evaluation questions the record's rows were scored on (the first ``n_questions`` of its fact set's)."""
    facts = fact_set(seed=record["budget"]["seed"])
    if [d["doc_id"] for d in facts.eval_docs] != record["fact_set"]["eval_docs"]:
        raise ValueError("the record was made on another fact set than fact_set(seed) gives")
    return facts.eval_qa[:record["budget"]["n_questions"]]


@dataclass
class RealInjectionArgs:
    """The flags of ``python -m ftrag.course.real_injection``."""

    model: str = arg("smollm2", "the model to fine-tune (a name load_model accepts)")
    arms: list[str] | None = arg(None, f"the arms to train: text arms (LoRA at lr {LR['lora']:g}, full at "
                                 f"{FULL_LR:g}), "
                                 f"'memorised questions', 'question wordings' (not given: {list(DEFAULT_ARMS)})",
                                 nargs="+")
    steps: int = arg(STEPS, "optimizer steps per arm")
    batch_size: int = arg(BATCH_SIZE, f"blocks of {BLOCK_SIZE} tokens per step")
    eval_every: int = arg(EVAL_EVERY, "steps between validation scores (the best step is kept)")
    n_questions: int | None = arg(None, "only the first N evaluation questions (not given: all 266)")
    threads: int = arg(2, "torch CPU threads (the recorded run: 2)")
    out: str = arg(DEFAULT_OUT, "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.real_injection``: lesson 05's fact arms on a real model."""
    return command_line(RealInjectionArgs, argv, prog="python -m ftrag.course.real_injection",
                        description="Lesson 05 on a real model: the facts fine-tuned in (a CPU budget), "
                                    "scored closed-book and as RAG's reader on lesson 05's questions.",
                        run=lambda a: sweep(a.out, model_name=a.model, arms=a.arms or DEFAULT_ARMS, steps=a.steps,
                                            batch_size=a.batch_size, eval_every=a.eval_every,
                                            n_questions=a.n_questions))


if __name__ == "__main__":
    raise SystemExit(main())
