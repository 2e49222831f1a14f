"""The course world: checksums, byte-for-byte regeneration, the separations the course relies on, dataset shapes."""

import json
from collections import Counter

import jsonschema
import pytest

from ftrag.files import content_sha256, read_examples, read_jsonl, sha256, write_text
from ftrag.paths import data_dir, data_path
from ftrag.world import manifest, memos, separation, world_a, world_b

DATA = data_dir()


@pytest.fixture(scope="module")
def pretraining_text():
    return separation.pretraining_corpus()


def test_manifest_matches_every_file():
    assert manifest.problems(DATA) == [], "run `python -m ftrag.world --manifest-only` after a deliberate change"


@pytest.mark.slow  # regenerates the whole world and tokenizes it for the data card: about a minute
def test_regeneration_reproduces_every_checksum():
    from ftrag.world.__main__ import check

    assert check(DATA) == []


def test_xz_files_are_compared_by_their_text(tmp_path):
    text = "The same text.\n\n" * 500
    write_text(tmp_path / "fast.txt.xz", text, xz_preset=0)
    write_text(tmp_path / "small.txt.xz", text)
    write_text(tmp_path / "other.txt.xz", text + "One more line.\n")
    assert sha256(tmp_path / "fast.txt.xz") != sha256(tmp_path / "small.txt.xz")  # other bytes ...
    assert content_sha256(tmp_path / "fast.txt.xz") == content_sha256(tmp_path / "small.txt.xz")  # ... same text
    assert content_sha256(tmp_path / "other.txt.xz") != content_sha256(tmp_path / "small.txt.xz")
    assert read_examples(tmp_path / "fast.txt.xz") == ["The same text."] * 500


def test_pretraining_corpus_has_no_json_characters(pretraining_text):
    assert separation.char_counts(pretraining_text) == dict.fromkeys('{}[]"', 0)


def test_pretraining_corpus_has_no_dialect_word(pretraining_text):
    terms = memos.dialect_terms()
    assert len(terms) >= 30
    assert separation.term_hits(pretraining_text, terms) == []


def test_pretraining_corpus_has_no_world_b_name(pretraining_text):
    names = world_b.entity_names()
    assert len(names) >= 100
    assert separation.term_hits(pretraining_text, names) == []


def test_term_hits_finds_whole_words_only():
    text = "Anna Berg met Tom. The QRV code."
    found = separation.term_hits(text, ["anna berg", "QRV", "Tomas", "berg met", "Ann"])
    assert found == ["QRV", "anna berg", "berg met"]


def test_world_b_knowledge_base_shape():
    docs, facts = read_jsonl("knowledge", "docs.jsonl"), read_jsonl("knowledge", "facts.jsonl")
    qa = read_jsonl("knowledge", "qa.jsonl")
    assert docs and facts and len({d["doc_id"] for d in docs}) == len(docs)
    assert {"doc_id", "title", "text"} <= set(docs[0])
    by_id = {d["doc_id"]: d["text"] for d in docs}
    assert Counter(q["kind"] for q in qa).keys() == {"lexical", "paraphrased"}
    for q in qa:
        assert {"id", "question", "answer", "doc_id", "kind"} <= set(q)
        assert q["answer"] in by_id[q["doc_id"]], q
    paraphrases = read_jsonl("knowledge", "paraphrases.jsonl")
    ks = {}
    for p in paraphrases:
        ks.setdefault(p["doc_id"], set()).add(p["k"])
    assert ks == {doc_id: set(range(1, 11)) for doc_id in by_id}


def test_hard_questions_hide_or_break_the_name_and_keep_the_answer_in_its_document():
    docs = {d["doc_id"]: d for d in read_jsonl("knowledge", "docs.jsonl")}
    hard = read_jsonl("knowledge", "hard_qa.jsonl")
    assert Counter(q["kind"] for q in hard) == {"described": len(docs), "misspelled": len(docs), "two_hop": len(docs)}
    assert len({q["id"] for q in hard}) == len(hard)
    for q in hard:
        assert q["answer"] in docs[q["doc_id"]]["text"] and q["answer"] not in q["question"], q
        title = docs[q["doc_id"]]["title"]
        if q["kind"] == "two_hop":
            assert title not in q["question"] and docs[q["bridge_doc_id"]]["title"] in q["question"], q
            assert title in docs[q["bridge_doc_id"]]["text"], q  # the bridge document names the answer's document
        else:  # described: no name at all; misspelled: the name is there with one typo only
            assert title.replace("Incident ", "").replace(" Team", "").replace(" Policy", "") not in q["question"], q
    described = [q["question"] for q in hard if q["kind"] == "described"]
    assert not any(d["title"] in question for d in docs.values() for question in described
                   if d["type"] in ("product", "project", "policy", "incident"))


def test_rc_test_shape():
    rows = read_jsonl("world_a", "rc_test.jsonl")
    assert {len(r["passages"]) - 1 for r in rows} == {0, 1, 2, 3, 4}
    for r in rows:
        assert 0 <= r["gold"] < len(r["passages"]) and r["answer"] in r["passages"][r["gold"]]


def test_dialect_splits_and_glossary():
    train = read_examples("dialect", "train.txt.xz")
    # >= 1M tokens of the course tokenizer (the data card counts them exactly)
    assert sum(len(doc) for doc in train) >= 4_000_000
    for split in ("valid.txt", "test.txt"):
        assert len(read_examples("dialect", split)) >= 200
    assert data_path("dialect", "glossary.md").stat().st_size > 500


def test_json_task_rows_follow_the_schema():
    schema = json.loads(data_path("json_task", "schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    train, test = read_jsonl("json_task", "train.jsonl"), read_jsonl("json_task", "test.jsonl")
    assert train and test and not {r["text"] for r in train} & {r["text"] for r in test}  # no test notice trained on
    types = {p.get("type") for p in schema["properties"].values()}
    assert {"integer", "string", "object"} <= types and len(schema["required"]) >= 6
    for row in train + test:
        validator.validate(row["target"])
        assert not set(row["text"]) & world_a.FORBIDDEN_CHARS
