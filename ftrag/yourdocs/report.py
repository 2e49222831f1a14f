"""The report: the decision guide's rules applied to the numbers measured on your documents, the tables, three
plots, and the examples of where each approach failed.

Each verdict is a rule on the measured numbers (``verdicts``), with the number that decided it and what was not
measured; the margins are the guide's (``docs/decision_guide.md``): a gain of 0.2 in the answer rate decides
between two approaches, and a 95% interval over the questions must clear zero.
"""

from __future__ import annotations

import json
from pathlib import Path

from ftrag import stats

GAIN = 0.2  # the guide's margin between two approaches' answer rates (its RAG rows)
RETRIEVER_GAP = 0.1  # the guide's margin between two retrievers' recall (its BM25 / dense rows)
GOOD_READER = 0.6  # an oracle below this: the reader, not retrieval, is what fails


def _arm(reading: dict, prefix: str) -> dict:
    return next(v for k, v in reading["arms"].items() if k.startswith(prefix))


def verdicts(m: dict) -> list[dict]:
    """The rules, each: ``question``, ``verdict``, ``because`` (the numbers), ``not_measured`` and ``timed`` (the
    evidence is a time measured on this machine, so it differs from one run to the next)."""
    reading, ret, k = m["reading"], m["retrieval"], m["settings"]["k"]
    closed, rag_arm, oracle = (_arm(reading, p) for p in ("closed-book", "RAG", "oracle"))
    gain = stats.paired_difference(rag_arm["hits"], closed["hits"])
    gap = stats.paired_difference(oracle["hits"], rag_arm["hits"])
    out = []
    if gain[1] > 0 and gain[0] >= GAIN:
        verdict = "**Retrieve**: RAG answers what the model alone cannot"
    elif closed["contains"] >= GOOD_READER and closed["contains"] >= oracle["contains"] - 0.05:
        verdict = "**Neither**: the model already answers as well without the documents"
    else:
        verdict = "**Not decided**: RAG's gain is under the margin or its interval reaches zero"
    out.append({"question": "Does retrieval add what the model does not know?", "verdict": verdict,
                "because": f"answers containing the gold answer: closed-book {closed['contains']:.2f}, RAG "
                           f"{rag_arm['contains']:.2f}; RAG minus closed-book {stats.shown(gain)} (rule: >= {GAIN} "
                           f"and the interval above 0)",
                "not_measured": "questions the gold files do not answer (abstaining); a larger reader"})
    recall = {name: _recall_at(r, k) for name, r in ret.items()}
    best = max(recall, key=lambda n: (round(recall[n], 4), ret[n]["MRR@10"] if "MRR@10" in ret[n] else 0))
    lead = recall[best] - min(recall["BM25"], recall["dense"])
    out.append({"question": "Which retriever?", "verdict": f"**{best}**" + (
        "" if lead >= RETRIEVER_GAP else " by a margin under the guide's 0.1: any of them will do"),
                "because": f"recall@{k} (the chunks RAG reads) " + ", ".join(f"{n} {v:.2f}" for n, v in
                                                                            recall.items()) + " (ties: MRR)",
                "not_measured": "a reranker; other chunk sizes (the flag --chunk-tokens)"})
    if oracle["contains"] < GOOD_READER:
        verdict = ("**The reader fails even with the right passage**: a larger reader first, or fine-tune the "
                   "reader on (passage, question, answer) examples (RAFT, lesson 05)")
    elif gap[1] > 0:
        verdict = "**Improve retrieval**: the right passage would raise the answers significantly"
    else:
        verdict = "**Retrieval is not the bottleneck**: the retrieved chunks serve the reader about as well"
    out.append({"question": "What limits RAG here: retrieval or the reader?", "verdict": verdict,
                "because": f"oracle {oracle['contains']:.2f} vs RAG {rag_arm['contains']:.2f}: oracle minus RAG "
                           f"{stats.shown(gap)}; hybrid recall@{k} {_recall_at(ret['hybrid'], k):.2f}",
                "not_measured": f"other k than {k} (the flag --k; lesson 04: a small reader reads one passage "
                                "best); answers that need two documents at once"})
    tokens, window = reading["corpus_tokens"], reading["window"]
    whole = reading["arms"].get("whole corpus in the context")
    out.append({"question": "Why not put the whole corpus in the context?",
                "verdict": ("**It fits**: compare its answers and its prompt cost with RAG's below" if whole else
                            f"**It does not fit**: {tokens / window:.1f} times the reader's window"),
                "because": f"the corpus is {tokens:,} tokens, the window {window:,}" + (
                    f"; whole corpus {whole['contains']:.2f} at {whole['prompt_tokens']:,.0f} prompt tokens per "
                    f"query vs RAG {rag_arm['contains']:.2f} at {rag_arm['prompt_tokens']:,.0f}" if whole else ""),
                "not_measured": "a long-context reader"})
    lora = m.get("lora")
    out.append({"question": "Should the facts be fine-tuned into the model instead?",
                "verdict": "**Not for facts**: the course measured that fine-tuning on documents teaches facts "
                           "poorly and trails RAG (lesson 05); here only its cost is measured",
                "because": (f"one LoRA pass over the corpus: {lora['pass_hours']:.1f} h on this machine "
                            f"({lora['tokens_per_second']:,.0f} tokens/s over {lora['steps']} timed steps), against "
                            f"{sum(m['index_seconds'].values()):.0f} s to index it") if lora else
                "the LoRA cost was not measured in this run (--lora-steps 0)",
                "not_measured": "what fine-tuning would teach on these documents (a long run and an evaluation); a "
                                "house style or dialect, where the course found fine-tuning helps (lesson 03)",
                "timed": bool(lora)})
    return out


def _recall_at(run: dict, k: int) -> float:
    ks = sorted(int(x.split("@")[1]) for x in run if x.startswith("recall@"))
    return run[f"recall@{max([x for x in ks if x <= k] or ks[:1])}"]


def failures(m: dict, questions: list[dict], n: int = 3) -> dict[str, list[dict]]:
    """Up to ``n`` examples of each way to fail: the gold file was not among the k the reader saw (its rank may be
    just below k: the failures table shows the retrieved files); it was, and the reader still missed; even the
    oracle missed."""
    arms, top = m["reading"]["arms"], m["retrieval"]["hybrid"]["top"]
    rag_arm = next(a for a in arms if a.startswith("RAG"))
    k = m["settings"]["k"]
    ranks = m["retrieval"]["hybrid"]["ranks"]
    missed, read = f"the gold file was not in the top {k}", f"the gold file was in the top {k}, the reader missed"
    out: dict[str, list[dict]] = {missed: [], read: [], "the oracle missed": []}
    for i, q in enumerate(questions):
        row = {"question": q["question"], "answer": q["answer"], "file": q["file"], "retrieved": top[i],
               "reply": arms[rag_arm]["predictions"][i]}
        if arms[rag_arm]["hits"][i] == "0":
            out[missed if ranks[i] is None or ranks[i] > k else read].append(row)
        if arms["oracle (the gold chunk)"]["hits"][i] == "0":
            out["the oracle missed"].append(row | {"reply": arms["oracle (the gold chunk)"]["predictions"][i]})
    return {kind: rows[:n] for kind, rows in out.items()}


def plots(m: dict, out: Path) -> list[str]:
    """Three PNG files in ``out``: recall@k by retriever, answers by approach, cost per query."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, run in m["retrieval"].items():
        ks = sorted(int(x.split("@")[1]) for x in run if x.startswith("recall@"))
        ax.plot(ks, [run[f"recall@{k}"] for k in ks], marker="o", label=name)
    ax.set(xlabel="k (documents)", ylabel="recall@k", ylim=(0, 1.02), title="the gold file in the top k")
    ax.legend()
    names.append(_save(fig, out / "recall_at_k.png"))
    arms = m["reading"]["arms"]
    rates = [stats.interval(a["hits"]) for a in arms.values()]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.barh(list(arms), [r[0] for r in rates], xerr=[[r[0] - r[1] for r in rates], [r[2] - r[0] for r in rates]],
            color="tab:blue", capsize=3)
    ax.set(xlabel="share of replies containing the answer (95% interval)", xlim=(0, 1), title="answers by approach")
    ax.invert_yaxis()
    names.append(_save(fig, out / "answers_by_approach.png"))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    left.barh(list(arms), [a["prompt_tokens"] for a in arms.values()], color="tab:orange")
    left.set(xlabel="prompt tokens per query", title="cost per query")
    right.barh(list(arms), [a["ms_per_query"] for a in arms.values()], color="tab:green")
    right.set(xlabel="ms per query (this machine)")
    left.invert_yaxis()
    names.append(_save(fig, out / "cost_per_query.png"))
    return names


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def numbers(m: dict) -> dict:
    """The measured numbers without the per-question lists (``results.json`` beside the report)."""
    reading = {arm: {k: v for k, v in a.items() if k != "predictions"} for arm, a in m["reading"]["arms"].items()}
    retrieval = {name: {k: v for k, v in r.items() if k not in ("top",)} for name, r in m["retrieval"].items()}
    return {**{k: v for k, v in m.items() if k not in ("reading", "retrieval")}, "retrieval": retrieval,
            "reading": {**m["reading"], "arms": reading}}


def write_json(m: dict, path: Path) -> None:
    path.write_text(json.dumps(numbers(m), indent=1, sort_keys=True, default=float) + "\n")


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= n else text[:n - 1] + "…"


def markdown(m: dict, questions: list[dict], images: list[str]) -> str:
    """The report page: what was run, the verdicts, the tables, the plots, the failures."""
    run, reading, ret = m["run"], m["reading"], m["retrieval"]
    ks = sorted(int(x.split("@")[1]) for x in ret["hybrid"] if x.startswith("recall@"))
    parts = [f"# Fine-tune or RAG? The method on {run['corpus']}", "",
             f"{run['documents']} documents ({run['characters']:,} characters, {reading['corpus_tokens']:,} tokens of "
             f"the reader), {len(questions)} gold questions ({run['kinds']}); reader {run['model']} (window "
             f"{reading['window']:,} tokens); {run['machine']}, {run['threads']} threads, {run['date']}; the whole "
             f"run took {run['seconds']:.0f} s. Command: `{run['command']}`.", "",
             "A reply counts when it **contains** the gold answer's words (case and punctuation aside): an instruct "
             "model answers in sentences, so exact match would count right answers as wrong; token F1 and strict "
             "exact match are in the table too. Intervals are 95% paired bootstraps over the questions.", "",
             "## Verdicts", ""]
    for v in verdicts(m):
        parts += [f"- {v['question']} {v['verdict']}. *Decided by*: {v['because']}. *Not measured*: "
                  f"{v['not_measured']}."]
    parts += ["", "## Retrieval: is the gold file among the top k?", "",
              _table(["retriever", *[f"recall@{k}" for k in ks], f"MRR@{ks[-1]}", "ms per query"],
                     [[name, *[f"{r[f'recall@{k}']:.2f}" for k in ks], f"{r[f'MRR@{ks[-1]}']:.2f}",
                       f"{r['ms_per_query']:.1f}"] for name, r in ret.items()]), "",
              f"{m['chunks']['n']:,} chunks of sentences, at most {m['settings']['chunk_tokens']} tokens each (mean "
              f"{m['chunks']['mean']:.0f}, longest {m['chunks']['max']}: a longer sentence stays whole); indexing "
              "took " + ", ".join(f"{k} {v:.1f} s" for k, v in m["index_seconds"].items()) + ".", "",
              f"![recall@k]({images[0]})", "", "## Answers: the reader alone, with RAG, with the oracle", "",
              _table(["approach", "contains the answer", "95% interval", "token F1", "strict EM", "prompt tokens",
                      "ms per query"],
                     [[arm, f"{a['contains']:.2f}", "[{1:.2f}, {2:.2f}]".format(*stats.interval(a["hits"])),
                       f"{a['token_f1']:.2f}", f"{a['strict_em']:.2f}", f"{a['prompt_tokens']:,.0f}",
                       f"{a['ms_per_query']:,.0f}"] for arm, a in reading["arms"].items()]), "",
              f"![answers]({images[1]})", "", f"![cost]({images[2]})", ""]
    lora = m.get("lora")
    if lora:
        parts += ["## What fine-tuning would cost", "",
                  f"{lora['steps']} LoRA steps (r 8, {lora['trainable']:,} trainable parameters) of "
                  f"{m['settings']['lora_batch']} blocks of {m['settings']['block_tokens']} tokens: "
                  f"{lora['tokens']:,} tokens in {lora['seconds']:.1f} s, "
                  f"{lora['tokens_per_second']:,.0f} tokens/s on {lora['threads']} threads. One pass over the corpus "
                  f"({lora['blocks']:,} blocks) would take about **{lora['pass_hours']:.1f} hours** here; lesson 05 "
                  f"needed many passes and paraphrases before facts were recalled at all.", ""]
    parts += ["## Where each approach failed", ""]
    for kind, rows in failures(m, questions).items():
        parts += [f"**{kind}** ({len(rows)} shown)", ""]
        if rows:
            parts += [_table(["question", "gold answer (file)", "retrieved files", "reply"],
                             [[_cell(r["question"]), _cell(f"{r['answer']} ({r['file']})"),
                               _cell(", ".join(r["retrieved"])), _cell(r["reply"])] for r in rows]), ""]
    parts += ["## What this shows, and what it does not", "",
              "It measures, on these documents and these questions only, whether retrieval supplies what the reader "
              "lacks and where the pipeline loses answers. The questions were written by someone who knew the answer "
              "and its file; real users' questions are vaguer. A 135M-parameter reader is weaker than a production "
              "model: a larger reader moves every answer rate, and the course measured that the oracle and RAG rise "
              "with the reader (lesson 05). Fine-tuning is only costed here, not trained to convergence.", ""]
    return "\n".join(parts)
