"""Multiple-choice scoring by log-likelihood (lesson 05's knowledge metric)."""

import pytest

from ftrag.files import read_jsonl
from ftrag.tasks import multiple_choice


@pytest.fixture(scope="module")
def world_b():
    return read_jsonl("knowledge", "qa.jsonl"), read_jsonl("knowledge", "facts.jsonl"), \
        {d["doc_id"]: d["text"] for d in read_jsonl("knowledge", "docs.jsonl")}


@pytest.fixture(scope="module")
def course():
    from ftrag.lm import load_model

    return load_model("course-lm", device="cpu")


def test_options_hold_the_answer_once_and_same_type_distractors(world_b):
    from ftrag.lm import normalize_answer

    qa, facts, _ = world_b
    rows = qa[::37]
    options = multiple_choice.options_for(rows, facts, n_distractors=3, seed=0)
    by_type = {}
    for f in facts:
        by_type.setdefault(f["answer_type"], set()).add(f["value"])
    for row, opts in zip(rows, options, strict=True):
        assert len(opts) == 4 and len(set(opts)) == 4
        assert [normalize_answer(o) for o in opts].count(normalize_answer(row["answer"])) == 1
        assert set(opts) <= by_type[row["answer_type"]]
    assert multiple_choice.options_for(rows[3:5], facts) == options[3:5]  # a row's options do not depend on the others
    assert multiple_choice.options_for(rows, facts, seed=1) != options
    assert len({tuple(o).index(r["answer"]) for o, r in zip(options, rows, strict=True)}) > 1  # answer not always 1st


def test_options_for_rejects_bad_input(world_b):
    qa, facts, _ = world_b
    with pytest.raises(ValueError, match="answer_type 'colour'"):
        multiple_choice.options_for([{**qa[0], "answer_type": "colour"}], facts)
    with pytest.raises(ValueError, match="lacks"):
        multiple_choice.options_for([{"question": "?"}], facts)
    with pytest.raises(ValueError, match="at most"):
        multiple_choice.options_for(qa[:1], facts, n_distractors=10_000)
    with pytest.raises(ValueError, match="non-empty list"):
        multiple_choice.options_for(qa[0], facts)


def test_option_log_likelihood_is_the_summed_log_probability(course):
    import torch
    import torch.nn.functional as F

    from ftrag.lm import format_prompt

    model, tok = course
    prompt = format_prompt("Where does Mira Holt live?", ["Mira Holt lives in Ulvard."])
    got = multiple_choice.option_log_likelihoods(model, tok, [prompt], [["Ulvard", "Rothwick"]])[0]
    ids = tok(prompt)["input_ids"]
    option = tok(" Ulvard", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logp = F.log_softmax(model(input_ids=torch.tensor([ids + option])).logits[0].float(), -1)
    want = sum(logp[len(ids) - 1 + j, t].item() for j, t in enumerate(option))
    assert got[0] == pytest.approx(want, abs=1e-3) and got[0] > got[1]
    with pytest.raises(ValueError, match="one list of options per prompt"):
        multiple_choice.option_log_likelihoods(model, tok, [prompt], [["a"], ["b"]])


def test_reading_the_document_beats_closed_book(course, world_b):
    """The course model reads World B documents: with the gold document it picks the answer; without, it guesses."""
    model, tok = course
    qa, facts, docs = world_b
    rows = [q for q in qa if q["kind"] == "lexical"][::20][:24]
    options = multiple_choice.options_for(rows, facts)
    open_book, picks = multiple_choice.mc_accuracy(model, tok, rows, options, [[docs[r["doc_id"]]] for r in rows])
    closed_book, _ = multiple_choice.mc_accuracy(model, tok, rows, options)
    assert len(picks) == len(rows) and all(p in o for p, o in zip(picks, options, strict=True))
    assert open_book >= 0.8 and open_book >= closed_book + 0.3, (open_book, closed_book)
    with pytest.raises(ValueError, match="one list per row"):
        multiple_choice.mc_accuracy(model, tok, rows, options, [[]])
