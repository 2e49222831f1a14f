"""Checks for the lab of lesson 06 (the method on your own documents)."""

from __future__ import annotations

import csv
import io
import random
import tempfile
from pathlib import Path

from ftrag import stats
from ftrag.check import call_solution, expect, expect_close, expect_equal, fail, passed
from ftrag.yourdocs.corpus import load_folder
from ftrag.yourdocs.questions import load_questions
from ftrag.yourdocs.report import GOOD_READER
from ftrag.yourdocs.sample import sample_folder, sample_questions

_CASES = [("The gateway listens on port 8443.", "8443", True), ("It listens on port 18443.", "8443", False),
          ('defined as floor division by "pow(2,n)".', "pow(2, n)", True), ("A ValueError is raised.",
                                                                            "valueerror", True),
          ("Backups run nightly.", "every night", False), ("Owned by Dana & Lee.", "Dana and Lee", False),
          ("the Owner: DANA LEE", "dana lee", True), ("anything", "", False)]


def check_answer_in_file(answer_in_file) -> None:
    """Exercise 1: is the answer written in the text, as whole words, case and punctuation aside?"""
    for text, answer, want in _CASES:
        got = call_solution(answer_in_file, text, answer, name="answer_in_file")
        expect_equal(bool(got), want, f"answer_in_file({text!r}, {answer!r})",
                     hint="lower-case both, keep runs of letters and digits (re.findall(r'[a-z0-9]+', ...)), and "
                          "look for the answer's words as a run inside the text's, padded with spaces so that "
                          "'8443' does not match inside '18443'; an answer with no word is never found")
    docs = {d["doc_id"]: d["text"] for d in load_folder(sample_folder(), quiet=True)}
    for row in load_questions(sample_questions(), load_folder(sample_folder(), quiet=True), quiet=True)[:20]:
        expect(call_solution(answer_in_file, docs[row["file"]], row["answer"], name="answer_in_file"),
               f"the sample's answer {row['answer']!r} is in {row['file']}, but answer_in_file says no")
    passed("answer_in_file agrees with the command's check on 8 cases and 20 of the sample's questions")


def check_recall_by_kind(recall_by_kind) -> None:
    """Exercise 2: recall@k of each kind of question, from each question's rank of its gold file."""
    ranks, kinds = [1, None, 3, 2, None, 1], ["lexical", "lexical", "paraphrased", "paraphrased", "paraphrased",
                                              "lexical"]
    got = call_solution(recall_by_kind, ranks, kinds, 2, name="recall_by_kind")
    expect(isinstance(got, dict), f"recall_by_kind should return a dict {{kind: recall}}, got {type(got).__name__}")
    expect_equal(sorted(got), ["lexical", "paraphrased"], "the kinds in the result")
    expect_close(got["lexical"], 2 / 3, "lexical recall@2 (ranks 1, None, 1)",
                 hint="a question counts when its rank is not None and at most k")
    expect_close(got["paraphrased"], 1 / 3, "paraphrased recall@2 (ranks 3, 2, None)")
    rng = random.Random(0)
    ranks = [rng.choice([None, 1, 2, 3, 5, 8]) for _ in range(50)]
    kinds = [rng.choice("abc") for _ in ranks]
    for k in (1, 5):
        got = call_solution(recall_by_kind, ranks, kinds, k, name="recall_by_kind")
        for kind in "abc":
            mine = [r for r, x in zip(ranks, kinds, strict=True) if x == kind]
            expect_close(got.get(kind), sum(r is not None and r <= k for r in mine) / len(mine),
                         f"recall@{k} of kind {kind!r} on random ranks")
    passed("recall_by_kind splits recall@k by kind correctly")


def _bottleneck(rag_hits: str, oracle_hits: str) -> str:
    if oracle_hits.count("1") / len(oracle_hits) < GOOD_READER:
        return "reader"
    return "retrieval" if stats.paired_difference(oracle_hits, rag_hits)[1] > 0 else "neither"


def check_bottleneck(bottleneck) -> None:
    """Exercise 3: the report's rule for what limits RAG."""
    cases = [("1" * 12 + "0" * 8, "1" * 18 + "0" * 2, "retrieval"), ("1" * 15 + "0" * 5, "1" * 16 + "0" * 4,
                                                                      "neither"),
             ("1" * 5 + "0" * 15, "1" * 10 + "0" * 10, "reader"), ("0" * 20, "1" * 20, "retrieval")]
    for rag_hits, oracle_hits, want in cases:
        got = call_solution(bottleneck, rag_hits, oracle_hits, name="bottleneck")
        expect_equal(got, want, f"bottleneck(RAG {rag_hits.count('1')}/20, oracle {oracle_hits.count('1')}/20)",
                     hint=f"'reader' when the oracle's rate is below {GOOD_READER}; else 'retrieval' when the low "
                          "end of stats.paired_difference(oracle_hits, rag_hits) is above 0; else 'neither'")
    rng = random.Random(1)
    for _ in range(10):
        rag_hits = "".join(rng.choice("01") for _ in range(30))
        oracle_hits = "".join("1" if c == "1" or rng.random() < 0.6 else "0" for c in rag_hits)
        expect_equal(call_solution(bottleneck, rag_hits, oracle_hits, name="bottleneck"),
                     _bottleneck(rag_hits, oracle_hits), "bottleneck on random hits")
    passed("bottleneck applies the report's rule")


def check_my_questions(my_questions) -> None:
    """Exercise 4: three gold questions of your own about the sample corpus, checked as the command checks them."""
    csv_text = call_solution(my_questions, name="my_questions")
    if not isinstance(csv_text, str):
        fail(f"my_questions() should return the CSV text as a string, got {type(csv_text).__name__}")
    rows = list(csv.DictReader(io.StringIO(csv_text.strip())))
    expect(len(rows) >= 3, f"write at least 3 questions, found {len(rows)} rows under the header")
    expect(any(r.get("kind") == "paraphrased" for r in rows), "mark at least one row kind=paraphrased (worded "
                                                                "otherwise than the text)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "my_questions.csv"
        path.write_text(csv_text.strip() + "\n")
        try:
            checked = load_questions(path, load_folder(sample_folder(), quiet=True), quiet=True)
        except ValueError as exc:
            fail(f"the command would refuse this file: {exc}")
    shipped = {r["question"].lower() for r in csv.DictReader(sample_questions().open())}
    expect(not any(r["question"].lower() in shipped for r in checked), "write new questions, not the sample's")
    passed(f"{len(checked)} questions pass the command's checks; run `python -m ftrag.yourdocs --questions` on them")
