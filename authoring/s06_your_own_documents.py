# notebook: solutions/06_your_own_documents.ipynb
# %% [markdown]
# # Lab 06 · Your own documents: the checks and the rules, built yourself
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/06_your_own_documents.ipynb)
#
# Three exercises on the parts of lesson 06 that make its numbers trustworthy, then one that starts your own
# question set: the check that an answer is written in its file, recall split by kind of question, the rule that
# tells a retrieval failure from a reading failure, and three gold questions of your own about the sample corpus.
# Fill in each blank (a function body that raises `NotImplementedError`, or a value left as `...`), run the cell,
# then run the check below it. No model is loaded: every exercise runs in seconds.
#
# **Time:** about 16 minutes.
# **Prerequisites:** lesson [06 · Your own documents](../notebooks/06_your_own_documents.ipynb).

# %% colab-install

# %%
import re

from ftrag import stats
from ftrag.yourdocs.corpus import load_folder
from ftrag.yourdocs.sample import sample_folder

docs = load_folder(sample_folder())
by_file = {d["doc_id"]: d["text"] for d in docs}
print(by_file["shifting.txt"][-300:])

# %% [markdown]
# ## Exercise 1: is the answer written in its file?
#
# The command refuses a gold question whose answer its file does not hold. Write the test it uses: lower-case both
# texts, keep their runs of letters and digits (`re.findall(r"[a-z0-9]+", ...)`), and return whether the answer's
# words occur as a run inside the text's words. Pad both with spaces, so that `8443` is not found inside `18443`;
# an answer with no letter or digit is never found.

# %%
def answer_in_file(text: str, answer: str) -> bool:
    """Whether the answer's words occur in the text as a run of whole words (case and punctuation aside)."""
    ### BEGIN SOLUTION
    def words(s: str) -> str:
        return " " + " ".join(re.findall(r"[a-z0-9]+", s.lower())) + " "

    return bool(words(answer).strip()) and words(answer) in words(text)
    ### END SOLUTION


# %%
from ftrag.check.l06 import check_answer_in_file

check_answer_in_file(answer_in_file)

# %% [markdown]
# ## Exercise 2: recall@k by kind of question
#
# `ranks[i]` is the rank of question i's gold file in a retriever's ranking (1 is first), or `None` when it is not
# in the top 10; `kinds[i]` is its kind (`lexical`, `paraphrased`...). Return `{kind: recall@k}`: for each kind, the
# share of its questions whose gold file ranks at most `k`.

# %%
def recall_by_kind(ranks: list, kinds: list[str], k: int) -> dict[str, float]:
    """recall@k of each kind of question."""
    ### BEGIN SOLUTION
    out = {}
    for kind in sorted(set(kinds)):
        mine = [r for r, x in zip(ranks, kinds, strict=True) if x == kind]
        out[kind] = sum(r is not None and r <= k for r in mine) / len(mine)
    return out
    ### END SOLUTION


# %%
from ftrag.check.l06 import check_recall_by_kind

check_recall_by_kind(recall_by_kind)

# %% [markdown]
# ## Exercise 3: retrieval or the reader?
#
# `rag_hits` and `oracle_hits` are strings of `0`/`1`, one per question: did the reply contain the answer with the
# retrieved chunks, and with the gold chunk? Return `"reader"` when the oracle answers less than 0.6 of the
# questions (the reader fails even with the right passage), else `"retrieval"` when the oracle beats RAG with a 95%
# interval above zero (`stats.paired_difference(oracle_hits, rag_hits)` returns (difference, low, high)), else
# `"neither"`.

# %%
def bottleneck(rag_hits: str, oracle_hits: str) -> str:
    """'reader', 'retrieval' or 'neither': what limits RAG on these questions."""
    ### BEGIN SOLUTION
    if oracle_hits.count("1") / len(oracle_hits) < 0.6:
        return "reader"
    return "retrieval" if stats.paired_difference(oracle_hits, rag_hits)[1] > 0 else "neither"
    ### END SOLUTION


# %%
from ftrag.check.l06 import check_bottleneck

check_bottleneck(bottleneck)

# %% [markdown]
# ## Exercise 4: three gold questions of your own
#
# Return three new questions about the sample corpus as CSV text: the header `question,answer,file,kind`, then one
# row per question. Each answer must be copied from the file you name (`data/pydoc/topics/<topic>.txt`; print
# `by_file["<topic>.txt"]` to read one), and at least one question must be worded differently from the text
# (`kind` = `paraphrased`). The check runs the command's own validation on them.

# %%
def my_questions() -> str:
    """Three gold questions about the sample corpus, as CSV text with its header."""
    ### BEGIN SOLUTION
    return """question,answer,file,kind
What kind of operation is the pass statement?,a null operation,pass.txt,paraphrased
Which expression suspends the execution of a coroutine on an awaitable object?,await,await.txt,paraphrased
What does every Python program consist of?,code blocks,execmodel.txt,paraphrased
"""
    ### END SOLUTION


# %%
from ftrag.check.l06 import check_my_questions

check_my_questions(my_questions)

# %% [markdown]
# **Then run them**: save the text as `my_questions.csv` and run
# `python -m ftrag.yourdocs --questions my_questions.csv --out my-report` (the sample folder is the default). With
# three questions every rate moves in thirds: the report says so. On your own folder, write twenty to fifty.
