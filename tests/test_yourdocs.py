"""The method on your own documents: the folder reader, the checks of the questions file, the sample corpus, the
report's rules, and the command end to end on a sample of the shipped questions (slow: the real model reads)."""

import json

import pytest

from ftrag.yourdocs import report
from ftrag.yourdocs.corpus import html_to_text, load_folder
from ftrag.yourdocs.questions import contains, load_questions
from ftrag.yourdocs.sample import sample_folder, sample_questions


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "a.txt").write_text("The gateway listens on port 8443.\nIt was set up in 2021.\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "b.md").write_text("# Backups\n\nBackups run every night at 02:00.\n")
    (tmp_path / "c.html").write_text("<html><head><style>p{}</style><script>x=1</script></head><body><h1>Owners"
                                     "</h1><p>The owner is Dana &amp; Lee.</p></body></html>")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / ".hidden.txt").write_text("not read")
    return tmp_path


def test_a_folder_is_read_file_by_file(folder, capsys):
    docs = load_folder(folder)
    assert [d["doc_id"] for d in docs] == ["a.txt", "c.html", "notes/b.md"]
    assert docs[1]["text"] == "Owners\n\nThe owner is Dana & Lee." and docs[2]["title"] == "Backups"
    shown = capsys.readouterr().out
    assert "3 documents" in shown and "empty.txt" in shown and "scan.pdf" in shown


def test_html_keeps_the_visible_text_only():
    assert html_to_text("<p>a<br>b</p><script>no</script><style>no</style><li>c  d</li>") == "a\nb\n\nc d"


def test_bad_folders_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="it is empty"):
        load_folder(tmp_path)
    (tmp_path / "scan.pdf").write_bytes(b"%PDF")
    with pytest.raises(ValueError, match="pdftotext"):
        load_folder(tmp_path)
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8.*iconv"):
        load_folder(tmp_path)
    (tmp_path / "latin.txt").write_text("x" * 50)
    with pytest.raises(ValueError, match="more than 10 characters"):
        load_folder(tmp_path, max_chars=10)


def _write(path, text):
    path.write_text(text)
    return path


def test_questions_are_checked_row_by_row(folder, tmp_path):
    docs = load_folder(folder, quiet=True)
    good = _write(tmp_path / "q.csv", "question,answer,file,kind\nWhich port?,8443,a.txt,lexical\n"
                                      "When do backups run?,every night at 02:00,notes/b.md,paraphrased\n")
    rows = load_questions(good, docs, quiet=True)
    assert rows[1] == {"question": "When do backups run?", "answer": "every night at 02:00", "file": "notes/b.md",
                       "kind": "paraphrased"}
    jsonl = _write(tmp_path / "q.jsonl", json.dumps({"question": "Who owns it?", "answer": "Dana & Lee",
                                                     "file": "c.html"}) + "\n")
    assert load_questions(jsonl, docs, quiet=True)[0]["kind"] == "unlabelled"
    cases = {"question,answer\nq,a\n": "lacks the column.*'file'",
             "question,answer,file\nWhich port?,,a.txt\n": "row 2: empty answer",
             "question,answer,file\nWhich port?,8443,b.md\n": "no document 'b.md'; did you mean \\['notes/b.md'\\]",
             "question,answer,file\nWhich port?,9000,a.txt\n": "row 2: the answer '9000' is not written in a.txt",
             "question,answer,file\nWhich port?,8443,a.txt\nwhich PORT,8443,a.txt\n": "row 3: the same question as "
                                                                                        "row 2",
             "question,answer,file\n": "no questions",
             "question,answer,file\nUnder v3, which port?,8443,a.txt\n": "row 2: 4 cells for 3 columns; a comma "
                                                                           "inside"}
    for text, message in cases.items():
        with pytest.raises(ValueError, match=message):
            load_questions(_write(tmp_path / "bad.csv", text), docs, quiet=True)
    with pytest.raises(ValueError, match="must be .csv or .jsonl"):
        load_questions(_write(tmp_path / "q.xlsx", "x"), docs)
    with pytest.raises(FileNotFoundError, match="questions_template.csv"):
        load_questions(tmp_path / "nope.csv", docs)


def test_containment_ignores_case_and_punctuation_but_not_word_boundaries():
    assert contains('defined as floor division by "pow(2,n)".', "pow(2, n)")
    assert contains("It raises a ValueError.", "valueerror") and not contains("port 18443", "8443")
    assert not contains("anything", "...")


def test_the_sample_corpus_and_its_questions():
    docs = load_folder(sample_folder(), quiet=True)
    questions = load_questions(sample_questions(), docs, quiet=True)  # every answer is written in its file
    assert len(docs) == 79 and len(questions) >= 50
    kinds = {q["kind"] for q in questions}
    assert kinds == {"lexical", "paraphrased"} and sum(q["kind"] == "paraphrased" for q in questions) >= 15
    assert (sample_folder().parent / "README.md").is_file()


def _measured(closed, rag, oracle, recall=(0.9, 0.6, 0.95), tokens=120_000):
    def arm(rate, n=20):
        hits = "1" * round(rate * n) + "0" * (n - round(rate * n))
        return {"contains": rate, "hits": hits, "prompt_tokens": 100.0, "ms_per_query": 50.0,
                "predictions": ["x"] * n, "token_f1": rate, "strict_em": 0.0}

    ret = {name: {"recall@1": r, "recall@3": r, "recall@5": r, "MRR@10": r, "ranks": [1] * 20, "top": [["a"]] * 20,
                  "ms_per_query": 1.0} for name, r in zip(("BM25", "dense", "hybrid"), recall, strict=True)}
    return {"settings": {"k": 3}, "retrieval": ret, "index_seconds": {"dense index": 5.0},
            "reading": {"arms": {"closed-book": arm(closed), "RAG (hybrid, top 3)": arm(rag),
                                 "oracle (the gold chunk)": arm(oracle)}, "corpus_tokens": tokens, "window": 8192},
            "lora": {"pass_hours": 2.5, "tokens_per_second": 100.0, "steps": 4}}


def test_the_reports_rules_follow_the_numbers():
    first = {v["question"]: v["verdict"] for v in report.verdicts(_measured(0.05, 0.7, 0.75))}
    assert first["Does retrieval add what the model does not know?"].startswith("**Retrieve**")
    assert first["Which retriever?"] == "**hybrid**"
    assert first["What limits RAG here: retrieval or the reader?"].startswith("**Retrieval is not the bottleneck")
    assert first["Why not put the whole corpus in the context?"].startswith("**It does not fit**: 14.6 times")
    second = {v["question"]: v["verdict"] for v in report.verdicts(_measured(0.7, 0.75, 0.75, (0.8, 0.75, 0.8)))}
    assert second["Does retrieval add what the model does not know?"].startswith("**Neither**")
    assert second["Which retriever?"].endswith("any of them will do")
    third = {v["question"]: v["verdict"] for v in report.verdicts(_measured(0.0, 0.15, 0.4))}
    assert third["Does retrieval add what the model does not know?"].startswith("**Not decided**")
    assert third["What limits RAG here: retrieval or the reader?"].startswith("**The reader fails")
    fourth = {v["question"]: v["verdict"] for v in report.verdicts(_measured(0.0, 0.3, 0.9))}
    assert fourth["What limits RAG here: retrieval or the reader?"].startswith("**Improve retrieval**")


@pytest.mark.slow  # the real model reads 6 questions four ways and trains one LoRA step (~1 min on 2 cores)
def test_the_command_writes_the_report_on_the_sample(tmp_path, capsys):
    from ftrag.yourdocs.__main__ import main

    out = tmp_path / "report"
    assert main(["--limit", "6", "--lora-steps", "1", "--threads", "2", "--out", str(out)]) == 0
    page = (out / "report.md").read_text()
    for v in ("Does retrieval add", "Which retriever?", "retrieval or the reader", "whole corpus",
              "fine-tuned into the model"):
        assert v in page
    for png in ("recall_at_k.png", "answers_by_approach.png", "cost_per_query.png"):
        assert (out / png).stat().st_size > 1000 and f"({png})" in page
    numbers = json.loads((out / "results.json").read_text())
    arms = numbers["reading"]["arms"]
    assert set(arms) == {"closed-book", "RAG (hybrid, top 1)", "oracle (the gold chunk)"}
    assert all(len(a["hits"]) == 6 for a in arms.values())
    assert numbers["reading"]["corpus_tokens"] > numbers["reading"]["window"]  # the sample does not fit
    assert 0 <= numbers["retrieval"]["hybrid"]["recall@5"] <= 1 and numbers["lora"]["tokens_per_second"] > 0
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow  # the real model reads 3 questions four ways (~20 s on 2 cores)
def test_a_corpus_that_fits_the_window_is_also_read_whole(folder, tmp_path):
    from ftrag.yourdocs.__main__ import main

    (folder / "scan.pdf").unlink()
    questions = tmp_path / "q.csv"
    questions.write_text("question,answer,file\nWhich port does the gateway listen on?,8443,a.txt\n"
                         "When do backups run?,02:00,notes/b.md\nWho is the owner?,Dana & Lee,c.html\n")
    out = tmp_path / "report"
    assert main([str(folder), "--questions", str(questions), "--lora-steps", "0", "--out", str(out)]) == 0
    numbers = json.loads((out / "results.json").read_text())
    whole = numbers["reading"]["arms"]["whole corpus in the context"]
    assert len(whole["hits"]) == 3 and 0 < whole["prompt_tokens"] < numbers["reading"]["window"]
    page = (out / "report.md").read_text()
    assert "**It fits**" in page and "whole corpus" in page and "--lora-steps 0" in page
