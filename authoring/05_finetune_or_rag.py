# notebook: notebooks/05_finetune_or_rag.ipynb
# %% [markdown]
# # 05 · Fine-tune or RAG? The same facts injected both ways, and the decision guide
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/notebooks/05_finetune_or_rag.ipynb)
#
# This is where the course answers its question. We take one fixed set of World B facts, which the course model
# has never read, and inject them into the model in every way the debate proposes: continued pretraining on the
# documents (with LoRA and with every weight), on 1 to 10 paraphrased renderings of each document, mixed with
# question/answer pairs, fine-tuning on the questions themselves, retrieval (RAG), both together, and a reader
# trained to read retrieved passages among distractors (RAFT). Every arm is asked the same questions in the same
# prompt format, and every arm pays its costs in the same currencies: what it forgets, what one new fact costs,
# what each query costs. The lesson ends with a decision guide whose every row is a number you measured in
# lessons 02 to 05.
#
# **You will learn**
# - to score knowledge two ways: exact match (can the model *state* the fact?) and multiple choice by
#   log-likelihood (does it *prefer* the true value?), as Ovadia et al. (2024) did;
# - why continued pretraining on documents stores facts the model cannot state, and what paraphrases and a few
#   question/answer examples change (Allen-Zhu & Li, 2023);
# - what fine-tuning on question strings really teaches (the strings);
# - what changing one fact costs each way, and whether the old value still comes out;
# - how a reader's training (RAFT, Zhang et al., 2024) and its capacity change what RAG delivers;
# - when to fine-tune, when to retrieve, when to do both, and when neither, from numbers.
#
# **Time:** about 60 minutes (the notebook's own run time, measured on a 2-core CPU,
# is in the [README's lesson table](../README.md#lessons)).
# **Prerequisites:** lessons [02](02_json_finetuning.ipynb) (LoRA, the training loop),
# [03](03_dialect_finetuning.ipynb) (continued pretraining, forgetting) and [04](04_rag_pipeline.ipynb) (the RAG
# pipeline).

# %% colab-install

# %% [markdown]
# ## Parameters
#
# `MODEL_NAME` selects the model. On Colab, a hub id (e.g. `"HuggingFaceTB/SmolLM2-135M"`) reruns every live cell
# on a real model and reports the claims instead of asserting them. The arms that take minutes to train were
# trained on the course model by one command (section 4) and are read from `SWEEP_FILE`; to rerun them on a hub
# model, run that command with `FTRAG_MODEL` set (see the end).

# %% tags=["parameters"]
MODEL_NAME = None  # None: the course model (or $FTRAG_MODEL); a hub id or a local folder also works
SEED = 0  # the fact set, the data order and the initialisations
SWEEP_FILE = "results/05_injection.json"  # written by `python -m ftrag.course.injection` (section 4)
WEAK_READER = "course-lm-small"  # the weaker reader shipped in data/models/ (section 8)
TOLERANCE = 0.05  # how far a live run may land from its recorded row (exact match, absolute)

# %%
import collections
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from ftrag import seed_everything
from ftrag.claims import claim, is_course_model
from ftrag.files import read_jsonl
from ftrag.lm import answer_questions, format_prompt, load_model, world_a_scores
from ftrag.paths import repo_root
from ftrag.results import save_results
from ftrag.retrieval import BM25Retriever, DenseRetriever, chunk_documents, load_embedder
from ftrag.retrieval.rag import answer_with_passages, build_prompt, context_length, retrieve_passages
from ftrag.tasks import injection
from ftrag.tasks.multiple_choice import mc_accuracy, option_log_likelihoods, options_for
from ftrag.train import count_parameters

seed_everything(SEED)
model, tokenizer = load_model(MODEL_NAME, device="cpu")
facts = injection.fact_set(seed=SEED)
facts_rows = read_jsonl("knowledge", "facts.jsonl")
n_facts = sum(f["doc_id"] in set(facts.doc_ids) for f in facts_rows)
print(f"fact set: {len(facts.train_docs)} + {len(facts.eval_docs)} documents ({n_facts} facts); "
      f"{len(facts.train_qa)} train-half questions, {len(facts.eval_qa)} evaluation questions "
      f"({sum(r['kind'] == 'lexical' for r in facts.eval_qa)} lexical, "
      f"{sum(r['kind'] == 'paraphrased' for r in facts.eval_qa)} paraphrased)")

# %% [markdown]
# ## 1. The fact set
#
# 60 World B documents, drawn with the seed, split in two halves of 30. **Every arm that trains sees all 60
# documents.** Only the *train half's* questions may ever be trained on; the *evaluation half's* questions are the
# ones every arm is asked. One evaluation document, its first three renderings (rendering 1 is the document itself;
# 2 to 10 say the same facts in other words and orders), and its questions, lexical (the document's words) and
# paraphrased (other words):

# %%
doc = facts.eval_docs[0]
for k, text in enumerate(injection.renderings([doc], 3), 1):
    print(f"rendering {k}: {text}")
for row in [r for r in facts.eval_qa if r["doc_id"] == doc["doc_id"]][:4]:
    print(f"{row['kind']:>11}: {row['question']} -> {row['answer']}")

# %% [markdown]
# ## 2. Two ways to score knowledge
#
# **Exact match** asks the model to *state* the fact: greedy generation after `Question: ... Answer:`, compared
# with the gold answer. **Multiple choice by log-likelihood** asks whether it *prefers* the true value: the answer
# and three other values of the same kind (three other dates, three other teams) are each scored by the
# log-probability the model gives them after the same prompt, and the model "knows" the fact when the true one
# scores highest. Chance is 0.25. It needs no generation and no exact wording, so it sees knowledge that exact
# match misses; Ovadia et al. scored fine-tuning against RAG this way.

# %%
row = facts.eval_qa[0]
options = options_for([row], facts_rows)[0]
scores = option_log_likelihoods(model, tokenizer, [format_prompt(row["question"])], [options])[0]
print(row["question"], "| gold:", row["answer"])
for option, score in sorted(zip(options, scores, strict=True), key=lambda x: -x[1]):
    print(f"  {score:8.2f}  {option}")

# %% [markdown]
# The closed-book baseline: the course model on the evaluation questions, with nothing but the question.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
live = {"closed-book": injection.closed_book_scores(model, tokenizer, facts.eval_qa, facts_rows)}
shown = ["em_lexical", "em_paraphrased", "em", "mc"]
pd.DataFrame(live).T[shown].round(3)

# %% [markdown]
# ## 3. RAG: lesson 04's best pipeline
#
# BM25 over all 164 World B documents, the top document in the prompt (lesson 04 measured that this reader reads
# one good passage best). Multiple choice can use the passage too.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
start = time.perf_counter()
rag_passages = injection.rag_passages(facts, facts.eval_qa)
rag_scores = injection.reading_em(model, tokenizer, facts.eval_qa, rag_passages)
rag_seconds = time.perf_counter() - start
by_id = {d["doc_id"]: d["text"] for d in facts.docs}
hit = np.mean([p[0] == by_id[r["doc_id"]] for r, p in zip(facts.eval_qa, rag_passages, strict=True)])
rag_scores["mc"] = mc_accuracy(model, tokenizer, facts.eval_qa, options_for(facts.eval_qa, facts_rows),
                               rag_passages)[0]
live["RAG (BM25, top 1)"] = rag_scores
prompt_tokens = {
    "closed-book": np.mean([len(tokenizer(format_prompt(r["question"]))["input_ids"]) for r in facts.eval_qa]),
    "RAG (BM25, top 1)": np.mean([len(tokenizer(format_prompt(r["question"], p))["input_ids"])
                                  for r, p in zip(facts.eval_qa, rag_passages, strict=True)]),
}
print(f"BM25 put the gold document first for {hit:.3f} of the questions")
print(f"{len(facts.eval_qa)} questions retrieved and answered in {rag_seconds:.1f} s "
      f"({1000 * rag_seconds / len(facts.eval_qa):.0f} ms per question)")
pd.DataFrame(live).T[shown].round(3)

# %% [markdown]
# Retrieval finds the right document for almost every question, and the reader copies the answer out of it: the
# facts were never in the weights, and did not need to be.
#
# ## 4. Fine-tuning the facts in: the arms that take minutes
#
# Each fine-tuning arm starts from the course model and trains on the **same token budget** (300 steps of 8 packed
# blocks of 256 tokens, 614k tokens, about 3.5 minutes on one core), so an arm with less text sees it more often:
#
# - **documents, LoRA / full**: the 60 documents (continued pretraining, Ovadia et al.'s "unsupervised
#   fine-tuning"). Does reading facts store them?
# - **10 paraphrases, full**: 10 renderings of each document. Does diversity alone make them stateable?
# - **mixed, k = 1, 2, 5, 10**: k renderings of each document **plus the train half's question/answer pairs**
#   (Allen-Zhu & Li's mixed training: the QA pairs show how facts are asked for; the evaluation half's are never
#   shown).
# - **memorised questions**: the evaluation half's lexical questions with their answers. What do question strings
#   teach?
# - **RAFT reader**: train-half questions with their document among look-alike distractors, sometimes without it.
#   Reading, not knowing (section 8).
#
# Training nine arms takes about 45 minutes on one core, too long for a notebook, so one documented command trained
# them and wrote one row per arm to a committed file; the next section trains the smallest arm live and checks it
# against its row. The command, its budget and its seed are in the file:

# %%
sweep = json.loads((repo_root() / SWEEP_FILE).read_text())
rows = sweep["rows"]
print("command:", sweep["command"], "| threads:", sweep["threads"])
print("budget:", json.dumps(sweep["budget"]))
assert sweep["fact_set"]["eval_docs"] == [d["doc_id"] for d in facts.eval_docs], "the sweep used another fact set"
columns = ["em_lexical", "em_paraphrased", "mc", "em_train_half", "rag_em", "world_a_ppl", "rc_em", "train_seconds"]
arms = pd.DataFrame({name: rows[name] for name in ["closed-book", *injection.ARMS]}).T
arms[columns].astype(float).round(3)

# %% [markdown]
# Read the table by column:
# - **Continued pretraining on the documents** leaves exact match near zero: the facts went in (multiple choice
#   rises above chance), but the model cannot *state* them when asked. This is Ovadia et al.'s finding, and
#   Allen-Zhu & Li's: knowledge read once, in one form, is stored but not extractable.
# - **Paraphrases plus question/answer pairs** make the evaluation half's facts stateable, though those questions
#   were never trained: the model learned *how facts are asked for* from the train half and applied it.
#   `em_train_half` (the trained questions) shows what memorising alone reaches.
# - `rag_em` is each fine-tuned model used as the reader of RAG: fine-tuning on facts can cost reading ability.
#
# First the headline comparison, with the RAG number measured live above:

# %%
docs_ft_em = max(rows["documents, LoRA"]["em"], rows["documents, full"]["em"])
claim(model, rag_scores["em"] >= docs_ft_em + 0.40,
      f"RAG exact match {rag_scores['em']:.3f} >= fine-tuning on the raw documents ({docs_ft_em:.3f}) + 0.40")

# %% [markdown]
# **Accuracy against the number of paraphrases.** The curve comes from the *mixed* design (renderings plus the
# train half's QA pairs): with plain continued pretraining, exact match stays near zero at every k (the
# `10 paraphrases, full` row), so there would be no curve to draw. Multiple choice and exact match are both shown,
# with RAG and closed-book as horizontal lines.

# %%
ks = list(injection.PARAPHRASE_KS)
curve = pd.DataFrame({k: rows[f"mixed, k={k}"] for k in ks}).T[["em", "mc"]].astype(float)
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.plot(ks, curve["mc"], "o-", c="tab:blue", label="fine-tuned: multiple choice")
ax.plot(ks, curve["em"], "s-", c="tab:green", label="fine-tuned: exact match")
ax.axhline(rag_scores["em"], c="tab:red", ls="--", label="RAG: exact match")
ax.axhline(rag_scores["mc"], c="tab:red", ls=":", label="RAG: multiple choice")
ax.axhline(live["closed-book"]["mc"], c="gray", ls=":", label="closed-book: multiple choice")
ax.axhline(live["closed-book"]["em"], c="gray", ls="--", label="closed-book: exact match")
ax.set(xscale="log", xticks=ks, xticklabels=ks, ylim=(0, 1.02), xlabel="renderings per document (k)",
       ylabel="accuracy on the evaluation half", title="mixed training: documents x k + train-half QA pairs")
ax.legend(fontsize=7, loc="center right")
plt.tight_layout()
plt.show()
gain_mc, gain_em = curve.loc[10, "mc"] - curve.loc[1, "mc"], curve.loc[10, "em"] - curve.loc[1, "em"]
claim(model, gain_mc >= 0.10, f"k = 10 beats k = 1 by {gain_mc:.3f} in multiple-choice accuracy (>= 0.10; "
      f"exact match: +{gain_em:.3f})")

# %% [markdown]
# ## 5. Memorising question strings (trained live)
#
# A tempting shortcut: fine-tune on the very questions users will ask. The smallest arm of the sweep does exactly
# that, with the evaluation half's *lexical* questions and their answers (loss on the answer only), and it trains
# in seconds, so we train it here and check it against its recorded row. Then we ask the *paraphrased* questions:
# the same facts, reworded.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
memorised, _ = load_model(MODEL_NAME, device="cpu")
lexical = [r for r in facts.eval_qa if r["kind"] == "lexical"]
example = injection.memorise_examples(tokenizer, lexical[:1])[0]
print(repr(tokenizer.decode(example["input_ids"])), "| trained tokens:",
      repr(tokenizer.decode([t for t in example["labels"] if t >= 0])))
memorised, mem_run = injection.train_arm(memorised, tokenizer, facts, injection.ARMS["memorised questions"], seed=SEED)
print(f"{len(mem_run.losses)} steps in {mem_run.seconds:.0f} s, loss {mem_run.losses[0]:.2f} -> "
      f"{mem_run.final_loss:.2f}, {mem_run.tokens:,} tokens")
mem = injection.closed_book_scores(memorised, tokenizer, facts.eval_qa, facts_rows)
recorded = rows["memorised questions"]
print(f"live: trained wording EM {mem['em_lexical']:.3f}, reworded EM {mem['em_paraphrased']:.3f} | recorded: "
      f"{recorded['em_lexical']:.3f}, {recorded['em_paraphrased']:.3f}")

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
if is_course_model(model):
    assert all(abs(mem[k] - recorded[k]) <= TOLERANCE for k in ("em_lexical", "em_paraphrased", "mc")), \
        f"the live run should land within {TOLERANCE} of the recorded row"
    print(f"the live run agrees with the recorded row (within {TOLERANCE})")
claim(model, mem["em_lexical"] >= 0.80 and mem["em_paraphrased"] <= mem["em_lexical"] - 0.30,
      f"memorised question strings: EM {mem['em_lexical']:.3f} on the trained wording (>= 0.80), "
      f"{mem['em_paraphrased']:.3f} on reworded questions about the same facts (at least 0.30 lower)")

# %% [markdown]
# The model learned the strings, not the facts: reworded, the same question loses most of its answers, though
# multiple choice shows some of the association did form (`mc_paraphrased` in the recorded row). Real users do not
# ask in the words of your training set.
#
# ## 6. A fact changes
#
# The list price of one product in the evaluation half doubles. With RAG, the knowledge base changes: replace the
# document and rebuild the index (BM25 over 164 documents: milliseconds). With fine-tuning, the model has to be
# trained on the new version: here the memorised model of section 5 (which states the old price when asked in its
# trained words) trains on the new document's ten renderings, the continued-pretraining way.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
target = injection.change_target(facts)
questions = [r["question"] for r in target["questions"]]
new_doc = injection.changed_document(target["doc"], target["old"], target["new"])
print(f"{target['doc']['title']}: {target['old']} -> {target['new']}\n  new version: {new_doc['text']}")

start = time.perf_counter()
docs_after = [new_doc if d["doc_id"] == new_doc["doc_id"] else d for d in facts.docs]
bm25_after = BM25Retriever(chunk_documents(docs_after))
reindex_seconds = time.perf_counter() - start
rag_after = answer_with_passages(model, tokenizer, questions, retrieve_passages(bm25_after, questions, 1))
ft_before = answer_questions(memorised, tokenizer, questions, max_new_tokens=12)
update = injection.update_fact(memorised, tokenizer, facts, "full", seed=SEED)
change = pd.DataFrame({
    "question": questions,
    "RAG, after replacing the document": rag_after,
    "memorised model, before": ft_before,
    "memorised model, after training on the new version": update["after"],
    "log p(new) - log p(old), after": update["preference_after"],
}).set_index("question")
print(f"RAG: index rebuilt in {1000 * reindex_seconds:.0f} ms | fine-tuning: {update['update_tokens']:,} tokens, "
      f"{update['update_seconds']:.1f} s")
change.round(3)

# %% [markdown]
# Read the rows. RAG answers the new price to both wordings the moment the document is replaced. The fine-tuned
# model needed training to change its answer; ten steps on the new version moved it (the log-probability now
# favours the new price by a wide margin, so the old value does not come out), but watch what the reworded question
# gets: the update reached the trained wording cleanly and the other one only partly. Every retraining also needs
# the checks of a training run (did anything else move?), which indexing a document does not.
#
# The sweep did the same for the strongest fine-tuned arm (mixed training, k = 10): after its 300 steps it trained
# on the changed document for the same few steps.

# %%
recorded_update = rows["mixed, k=10"]["update"]
pd.DataFrame({"question": recorded_update["questions"], "before": recorded_update["before"],
              "after": recorded_update["after"],
              "log p(new) - log p(old), after": recorded_update["preference_after"]}).set_index("question")

# %% [markdown]
# ## 7. Fine-tuned and retrieving: both
#
# `rag_em` in the sweep's table is each fine-tuned model used as the RAG reader, with the same retrieved passage.
# Knowing the facts does not make a better reader: training on short documents and closed-book answers costs some
# of the reading skill that RAG relies on.

# %%
both = pd.DataFrame({
    "closed-book EM": {name: rows[name]["em"] for name in ("closed-book", "mixed, k=10", "memorised questions")},
    "with RAG's passage (EM)": {name: rows[name]["rag_em"] for name in ("closed-book", "mixed, k=10",
                                                                       "memorised questions")},
})
both.round(3)

# %% [markdown]
# ## 8. The reader: RAFT-style training and capacity
#
# RAG delivers what its reader makes of the passages. Two questions: does a reader **trained to read among
# distractors** (RAFT, Zhang et al., 2024: train-half questions with the gold document among look-alike documents,
# and 5% of the time without it) read better? And does a **weaker reader** (a 1.1M-parameter model trained by the
# course model's recipe on the same World A data, shipped as `course-lm-small`) read worse?
#
# Each reader gets the evaluation questions with the gold document alone, among 2 and among 4 look-alike documents
# (BM25's next-best documents for the question), and with RAG's top document. The plain reader and the weak reader
# run live; the RAFT reader is the sweep's.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
plain = injection.reader_scores(model, tokenizer, facts, facts.eval_qa)
small_model, small_tokenizer = load_model(WEAK_READER, device="cpu")
weak = injection.reader_scores(small_model, small_tokenizer, facts, facts.eval_qa)
raft = {k.removeprefix("reader_"): v for k, v in rows["RAFT reader"].items() if k.startswith("reader_")}
readers = pd.DataFrame({"course model": plain, "course model, RAFT-trained": raft,
                        f"weaker reader ({count_parameters(small_model)[1] / 1e6:.1f}M)": weak}).T
readers.columns = ["gold alone", "gold + 2 distractors", "gold + 4 distractors", "RAG (top 1)"]
ax = readers.T.plot(kind="bar", rot=0, figsize=(8, 3.5), ylim=(0, 1.05), title="exact match by reader and prompt")
ax.set_ylabel("exact match")
plt.tight_layout()
plt.show()
readers.round(3)

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
if is_course_model(model):
    assert all(abs(plain[k] - rows["plain reader"][k]) <= TOLERANCE for k in plain), \
        "the live plain reader should agree with the sweep's"
gains = {n: raft[f"gold_{n}"] - plain[f"gold_{n}"] for n in (2, 4)}
claim(model, min(gains.values()) >= 0.05 and raft["gold_0"] >= plain["gold_0"],
      f"the RAFT-style reader beats the plain reader by {gains[2]:.3f} / {gains[4]:.3f} with 2 / 4 distractors "
      f"(>= 0.05) and is not worse with the gold passage alone ({raft['gold_0']:.3f} vs {plain['gold_0']:.3f})")
claim(model, weak["rag"] < plain["rag"] and weak["gold_0"] < plain["gold_0"],
      f"the weaker reader reads worse than the course model: RAG EM {weak['rag']:.3f} vs {plain['rag']:.3f}, "
      f"gold alone {weak['gold_0']:.3f} vs {plain['gold_0']:.3f}")

# %% [markdown]
# **Does every passage fit?** The course model reads at most 512 tokens, and a World B document takes about 85
# (up to 124). `build_prompt` keeps passages in order while they fit and drops the rest, so a long set of
# look-alikes can push the gold document out of the prompt. Count it:

# %%
limit = context_length(model, tokenizer)
for n in (2, 4):
    lists = injection.reading_passages(facts, facts.eval_qa, n)
    kept = [build_prompt(tokenizer, r["question"], ps, max_tokens=limit, reserve=12)[1]
            for r, ps in zip(facts.eval_qa, lists, strict=True)]
    cut = sum(k < len(ps) for k, ps in zip(kept, lists, strict=True))
    gold_cut = sum(by_id[r["doc_id"]] not in ps[:k] for r, ps, k in zip(facts.eval_qa, lists, kept, strict=True))
    print(f"gold + {n} distractors: {cut} of {len(lists)} prompts do not fit all their passages in {limit} tokens; "
          f"in {gold_cut} of them the gold document is cut")

# %% [markdown]
# With four look-alikes, some prompts lose the gold document: the "gold + 4 distractors" column counts those
# questions as unanswerable for every reader (each reader gets the same prompts). The comparison between readers
# stays fair, but that column is lower than reading alone would make it; a reader with a longer context, or
# shorter look-alikes, would be needed to separate the two.
#
# RAFT training taught the reader to pick the passage that names the question's subject, and it taught it without
# touching the facts of the evaluation half: its closed-book exact match stays at zero (the sweep's table), so every
# point it gains here is reading. It was trained at a learning rate ten times lower than the fact arms' (see
# `recipes` in the sweep file): a reader's skill is easy to overwrite, and at the fact arms' rate it read worse, not
# better. Only 5% of its examples leave the gold document out, fewer than the paper's 20%: with a fifth of its
# examples unanswerable from the passages, a reader this small learned to guess rather than read. The weaker reader
# barely reads at all, with or without distractors: RAG assumes a reader and cannot supply one.
#
# ## 9. What each arm costs
#
# **Forgetting.** Every fine-tuned arm is scored on World A after training: held-out perplexity and reading
# comprehension (gold passage alone), the course model's own skills. The base model is measured live.

# %%
# NBVAL_TOLERANCE 0.01: rates over 200-300 greedy answers may move by two answers on another CPU
base_world_a = world_a_scores(model, tokenizer)
forgetting = pd.DataFrame({name: {"World A ppl": rows[name]["world_a_ppl"], "World A RC EM": rows[name]["rc_em"]}
                           for name in ["closed-book", *injection.ARMS]}).T
forgetting.loc["closed-book"] = [base_world_a["world_a_ppl"], base_world_a["rc_em"]]
forgetting.index = ["base model", *injection.ARMS]
lora_ppl, full_ppl = rows["documents, LoRA"]["world_a_ppl"], rows["documents, full"]["world_a_ppl"]
claim(model, full_ppl > lora_ppl, f"full fine-tuning forgets more World A than LoRA on the same documents and "
      f"budget (World A perplexity {full_ppl:.3f} vs {lora_ppl:.3f}; base {base_world_a['world_a_ppl']:.3f})")
forgetting.round(3)

# %% [markdown]
# **Adding one new fact.** With RAG: chunk the new document, add it to BM25 and to a dense index (embedding it
# with all-MiniLM-L6-v2), measured here. With fine-tuning: the update of section 6 (one changed document, its ten
# renderings, 10 steps), timed on this machine for the claim; the sweep's update of the k = 10 arm; and, for scale,
# that arm's whole training divided by the facts it holds.

# %%
embedder = load_embedder()
bm25, dense = BM25Retriever(chunk_documents(facts.docs)), DenseRetriever(chunk_documents(facts.docs), embedder)
add_times = []
for copy in range(3):  # the fastest of three additions: a pause of the machine is not the method's cost
    start = time.perf_counter()
    new_chunks = chunk_documents([new_doc | {"doc_id": f"product-new-{copy}"}])
    bm25.add(new_chunks)
    dense.add(new_chunks)
    add_times.append(time.perf_counter() - start)
add_seconds = min(add_times)
embed_tokens = len(embedder.tokenizer(new_doc["text"])["input_ids"])
k10 = rows["mixed, k=10"]
cost = pd.DataFrame({
    "RAG: index one document": {"seconds": add_seconds, "tokens processed": embed_tokens},
    "fine-tuning: the memorised model on one changed document (section 6)": {
        "seconds": update["update_seconds"], "tokens processed": update["update_tokens"]},
    "fine-tuning: the k = 10 arm on one changed document (the sweep)": {
        "seconds": recorded_update["update_seconds"], "tokens processed": recorded_update["update_tokens"]},
    "fine-tuning: the k = 10 arm, per fact": {"seconds": k10["train_seconds"] / n_facts,
                                              "tokens processed": k10["tokens"] / n_facts},
}).T
# Both times are measured here, on this machine (section 6's update and this indexing), so their ratio does not
# depend on how fast the machine is; the sweep's update time was measured on another machine.
ratio = update["update_seconds"] / add_seconds
print(f"indexing one document took {1000 * add_seconds:.0f} ms; fine-tuning the memorised model on it took "
      f"{update['update_seconds']:.1f} s (section 6, on this machine)")
claim(model, ratio >= 10 and update["update_tokens"] >= 10 * embed_tokens,
      "adding a fact costs far less with RAG: at least 10x less time and 10x fewer tokens processed")
cost[["tokens processed"]].round(0)

# %% [markdown]
# **Per query and on disk.** A RAG query pays for retrieval and for a longer prompt; a fine-tuned model pays
# nothing per query but stores its change: a LoRA adapter, or a whole new copy of the weights.

# %%
start = time.perf_counter()
answer_questions(model, tokenizer, [r["question"] for r in facts.eval_qa], max_new_tokens=12)
closed_seconds = time.perf_counter() - start
print(f"per question: closed-book {1000 * closed_seconds / len(facts.eval_qa):.0f} ms, RAG "
      f"{1000 * rag_seconds / len(facts.eval_qa):.0f} ms (retrieval and reading, batched)")
storage = pd.DataFrame({
    "prompt tokens per query": {"closed-book / fine-tuned": prompt_tokens["closed-book"],
                                "RAG": prompt_tokens["RAG (BM25, top 1)"]},
})
sizes = pd.DataFrame({name: {"trainable parameters": rows[name]["trainable"],
                             "saved MB": rows[name]["saved_bytes"] / 2**20}
                      for name in ("documents, LoRA", "documents, full", "mixed, k=10", "RAFT reader")}).T
sizes["trainable parameters"] = sizes["trainable parameters"].astype(int)
display(storage.round(1))
sizes.round(2)

# %% [markdown]
# ## 10. Results
#
# One table: every arm, the same evaluation questions. Exact match and multiple choice are closed-book for the
# fine-tuned arms and with the retrieved passage for RAG; "with RAG" is the arm's model reading RAG's passage.

# %%
table = pd.DataFrame({name: {
    "EM lexical": rows[name]["em_lexical"], "EM paraphrased": rows[name]["em_paraphrased"], "MC": rows[name]["mc"],
    "EM with RAG": rows[name]["rag_em"], "World A ppl": rows[name]["world_a_ppl"],
    "trainable": rows[name]["trainable"], "train s": rows[name]["train_seconds"],
} for name in ["closed-book", *injection.ARMS]}).T
table.loc["RAG (BM25, top 1)"] = [rag_scores["em_lexical"], rag_scores["em_paraphrased"], rag_scores["mc"],
                                  rag_scores["em"], base_world_a["world_a_ppl"], 0, 0]
table.round(3)

# %% [markdown]
# The headline numbers go to `results/05_finetune_or_rag.json`, next to those lessons 02 to 04 wrote; the decision
# guide below is built from these files.

# %%
save_results("05_finetune_or_rag", {
    "closed_book_em": live["closed-book"]["em"], "closed_book_mc": live["closed-book"]["mc"],
    "rag_em": rag_scores["em"], "rag_em_paraphrased": rag_scores["em_paraphrased"], "rag_mc": rag_scores["mc"],
    "docs_lora_em": rows["documents, LoRA"]["em"], "docs_full_em": rows["documents, full"]["em"],
    "docs_full_mc": rows["documents, full"]["mc"],
    "mixed_k1_mc": curve.loc[1, "mc"], "mixed_k10_mc": curve.loc[10, "mc"], "mixed_k1_em": curve.loc[1, "em"],
    "mixed_k10_em": curve.loc[10, "em"], "mixed_k10_rag_em": rows["mixed, k=10"]["rag_em"],
    "memorised_em_trained_wording": mem["em_lexical"], "memorised_em_reworded": mem["em_paraphrased"],
    "plain_reader_gold_2": plain["gold_2"], "raft_reader_gold_2": raft["gold_2"],
    "plain_reader_gold_0": plain["gold_0"], "raft_reader_gold_0": raft["gold_0"],
    "weak_reader_rag_em": weak["rag"], "course_reader_rag_em": plain["rag"],
    "docs_lora_world_a_ppl": lora_ppl, "docs_full_world_a_ppl": full_ppl,
    "base_world_a_ppl": base_world_a["world_a_ppl"],
    "ft_update_fact_seconds": recorded_update["update_seconds"],
    "ft_update_fact_tokens": recorded_update["update_tokens"], "rag_add_fact_tokens": embed_tokens,
    "rag_prompt_tokens": prompt_tokens["RAG (BM25, top 1)"], "closed_book_prompt_tokens": prompt_tokens["closed-book"],
}, model)

# %% [markdown]
# ## 11. The decision guide
#
# Each row's evidence is read from the results files that lessons 02 to 05 wrote when they ran (`results/`), never
# typed; the same table is [`docs/decision_guide.md`](../docs/decision_guide.md), written by
# `python -m ftrag.course.guide`, and a test fails when that page and the files disagree. Each verdict carries the
# rule it follows from (`NN:key` is lesson NN's recorded value, in brackets): `decision.table()` raises, and the
# guide is not written, while a rule fails, so a rerun whose numbers no longer support a verdict cannot leave it
# standing. The last row is one the numbers changed: it used to say "LoRA rather than full fine-tuning", which
# holds at one learning rate and not at equal forgetting (lesson 03's sweep).

# %%
from ftrag import decision  # noqa: E402

for row in decision.table().itertuples():
    print(f"{row.Index + 1:>2}. {row.situation}\n    -> {row.do}\n    evidence: {row.evidence}\n"
          f"    follows because: {row.rule}\n")

# %% [markdown]
# ```mermaid
# flowchart TD
#     A[What must the model gain?] --> B{A format or behaviour?}
#     B -- "only valid syntax" --> N1[Neither: constrained decoding]
#     B -- "format and content" --> F1[Fine-tune with LoRA]
#     A --> C{A dialect or house style?}
#     C -- yes --> F2[Fine-tune: continued pretraining]
#     A --> D{Facts?}
#     D -- "new, many, or changing" --> R1[Retrieve: RAG]
#     R1 --> E{Reader confused by look-alike passages?}
#     E -- yes --> BOTH[Both: RAFT-train the reader, retrieve fewer passages]
#     E -- "reader too weak even with the gold passage" --> N2[Neither: a bigger model]
# ```
#
# (JupyterLab and GitHub draw this chart; Colab shows its source, and the page on GitHub shows the picture.)
#
# In one sentence: **fine-tune for how the model writes, retrieve for what it must know**; train the reader when
# retrieval serves it look-alikes, and change the model when it cannot read at all.
#
# **The claims the course set out to test.** Each claim practitioners repeat gets a verdict from the numbers by the
# rules in `ftrag/seed_claims.yaml` (supported, contradicted, or undecided when neither rule holds); the guide's
# page shows the same table with the evidence:

# %%
seed_claims = decision.claims_table(links=False)
for entry in seed_claims:
    print(f"{entry['verdict']:>17}: {entry['claim']}")
tally = collections.Counter(entry["verdict"] for entry in seed_claims)
assert (tally["cannot decide"], tally["contradicts"]) == (1, 1), f"the verdicts changed ({dict(tally)}): " \
    "rewrite the paragraph below"

# %% [markdown]
# One of them the numbers do not decide: the dialect's higher-order part (fine-tuning learned the memo's type, a
# retrieval filtered on the header read more of the priority, and on 100 memos neither wins by more than the
# noise). One is contradicted as measured: retrieval on top of the fine-tuned model added nothing, because that
# arm's training took its reading away; a tuned arm may decide it differently.
#
# ## What we measured, and what this does not show
#
# **Measured here**, on the course model and one fixed fact set: RAG states new facts that fine-tuning on the same
# documents stores but cannot state; paraphrases plus question/answer examples make fine-tuned facts stateable,
# more with more paraphrases, and still below RAG; trained question strings do not survive rewording; a changed
# fact costs milliseconds to index and a training run to teach; full fine-tuning forgets more than LoRA; a reader
# trained among distractors reads retrieved passages better, and a smaller reader reads them worse.
#
# **What this does not show.** A 4.2M-parameter model on a synthetic world is not a 7B model on your documents.
# The literature reports the same direction at scale: Ovadia et al. (2024) measured RAG at 0.875 against about 0.5
# for fine-tuning with paraphrases on new current-events facts, and Allen-Zhu & Li (2023) showed that knowledge
# becomes extractable when it is seen in varied forms. Larger readers handle long, noisy contexts far better than
# ours (lesson 04), so the RAFT gain may be smaller for them, and how much a larger model forgets at these learning
# rates was not measured here. One seed and one fact set are shown; the sweep's arms were trained once each. Exact
# match against one gold string is strict.
#
# **Rerun it on a real model.** Set `MODEL_NAME` (or `FTRAG_MODEL`) to a hub id on Colab: every live cell reruns
# and the claims are reported. For the trained arms, run `FTRAG_MODEL=HuggingFaceTB/SmolLM2-135M python -m
# ftrag.tasks.injection --device cuda --out results/05_injection_smollm.json` on a GPU and point `SWEEP_FILE` at it.
#
# **Next:** the lab [`labs/05_finetune_or_rag.ipynb`](../labs/05_finetune_or_rag.ipynb): the multiple-choice
# scorer, RAFT-style training examples, the paraphrase experiment for one k, and the cost of one new fact.
