"""Lesson 05's helpers (the fact set, training texts, RAFT prompts, a fact change), its sweep file, the results
files the lessons write, and the decision guide built from them."""

import copy
import json

import pytest

from ftrag import decision
from ftrag.course import guide
from ftrag.lm import load_model
from ftrag.paths import repo_root
from ftrag.results import load_results, save_results
from ftrag.tasks import fact_change, injection
from ftrag.tasks.facts import MAX_PROMPT, fewer_than_asked, prompt_tokens
from ftrag.world.world_b import occurrences

METRICS = ("em", "mc", "em_hits", "mc_hits", "rag_hits",
           "em_lexical", "em_paraphrased", "mc_lexical", "mc_paraphrased", "em_train_half", "rag_em",
           "world_a_ppl", "rc_em", "trainable", "train_seconds", "tokens", "saved_bytes")


@pytest.fixture(scope="module")
def facts():
    return injection.fact_set(seed=0)


@pytest.fixture(scope="module")
def tokenizer():
    from ftrag.lm import load_model

    return load_model("course-lm", device="cpu")[1]


def test_fact_set_halves_are_disjoint_and_seeded(facts):
    train, evaluation = {d["doc_id"] for d in facts.train_docs}, {d["doc_id"] for d in facts.eval_docs}
    assert len(train) == len(evaluation) == injection.N_DOCS // 2 and not train & evaluation
    assert {r["doc_id"] for r in facts.eval_qa} == evaluation and {r["doc_id"] for r in facts.train_qa} == train
    assert {r["kind"] for r in facts.eval_qa} == {"lexical", "paraphrased"}
    assert injection.fact_set(seed=0).doc_ids == facts.doc_ids and injection.fact_set(seed=1).doc_ids != facts.doc_ids
    valid = {d["doc_id"] for d in facts.valid_docs}
    assert len(valid) == injection.N_VALID and not valid & (train | evaluation)  # selection never sees evaluation
    assert {r["doc_id"] for r in facts.valid_qa} == valid
    with pytest.raises(ValueError, match="n_docs"):
        injection.fact_set(n_docs=10_000)
    with pytest.raises(ValueError, match="n_valid"):
        injection.fact_set(n_valid=500)


def test_multiple_choice_options_are_trained_values(facts):
    """Point 2 of the fairness issue: every option is a value some trained document states, so the true answer is
    not the only familiar string."""
    from ftrag.tasks.multiple_choice import options_for

    trained = {f["value"] for f in injection.trained_facts(facts)}
    assert all(set(options) <= trained for options in options_for(facts.eval_qa, injection.trained_facts(facts)))


def test_question_wordings_never_hold_an_evaluated_question(facts):
    rows = injection.question_wordings(facts.eval_docs)
    asked = {r["question"] for r in facts.eval_qa}
    assert rows and not asked & {r["question"] for r in rows}
    by_fact = {}
    for r in rows:
        by_fact.setdefault(r["fact_id"], set()).add(r["question"])
    assert {r["fact_id"] for r in facts.eval_qa} == set(by_fact) and min(map(len, by_fact.values())) >= 3
    answers = {r["fact_id"]: r["answer"] for r in facts.eval_qa}
    assert all(r["answer"] == answers[r["fact_id"]] for r in rows)


def test_training_texts_hold_no_evaluation_question(facts):
    for k in (1, 10):
        plain, mixed = injection.injection_texts(facts, k), injection.injection_texts(facts, k, mixed=True)
        assert len(plain) == k * (injection.N_DOCS + injection.N_VALID) and mixed[:len(plain)] == plain
        assert len(mixed) == len(plain) + len(facts.train_qa)
        assert not {r["question"] for r in facts.eval_qa} & {t for text in mixed for t in text.split("\n")}
        assert not any(r["question"] in text for r in facts.eval_qa for text in mixed)
    assert injection.renderings(facts.eval_docs[:1], 1) == [facts.eval_docs[0]["text"]]  # rendering 1: the document
    with pytest.raises(ValueError, match="k must be"):
        injection.renderings(facts.eval_docs, 11)


def test_packed_examples_fill_the_budget(facts, tokenizer):
    texts = injection.injection_texts(facts, 1)
    blocks = injection.packed_examples(tokenizer, texts, steps=5, batch_size=4, block_size=64)
    assert len(blocks) == 20 and all(len(b["input_ids"]) <= 64 for b in blocks)
    assert blocks == injection.packed_examples(tokenizer, texts, steps=5, batch_size=4, block_size=64)
    mixed = injection.packed_examples(tokenizer, texts, steps=5, batch_size=4, block_size=64, replay=0.25)
    assert len(mixed) == 20 and sum(b in injection.replay_blocks(tokenizer, 5, block_size=64) for b in mixed) == 5
    with pytest.raises(ValueError, match="replay"):
        injection.packed_examples(tokenizer, texts, replay=1.0)


def test_answer_examples_learn_the_answer_only(tokenizer):
    example = injection.answer_example(tokenizer, "Question: Who?\nAnswer:", "Mira Holt")
    learned = [t for t in example["labels"] if t >= 0]
    assert tokenizer.decode(learned[:-1]).strip() == "Mira Holt" and learned[-1] == tokenizer.eos_token_id
    assert len(example["labels"]) == len(example["input_ids"])


def test_raft_prompts_mix_gold_and_distractors(facts):
    by_id = {d["doc_id"]: d["text"] for d in facts.docs}
    rows = facts.train_qa[:40]
    pairs = injection.raft_prompts(facts, rows, copies=2, seed=0)
    assert len(pairs) == 80 and pairs == injection.raft_prompts(facts, rows, copies=2, seed=0)
    with_gold = [by_id[r["doc_id"]] in p for (p, _), r in zip(pairs, rows * 2, strict=True)]
    assert 0.6 < sum(with_gold) / len(with_gold) < 0.95  # p_gold = 0.8
    assert all(a == r["answer"] for (_, a), r in zip(pairs, rows * 2, strict=True))
    assert all(p.count("Passage:") >= 1 for p, _ in pairs)
    for others, row in zip(injection.distractor_docs(facts, [r["question"] for r in rows], [r["doc_id"] for r in rows]),
                           rows, strict=True):
        assert by_id[row["doc_id"]] not in others and len(others) == 4
    with pytest.raises(ValueError, match="p_gold"):
        injection.raft_prompts(facts, rows, p_gold=1.5)


def test_raft_prompts_fit_the_context(facts, tokenizer):
    by_id = {d["doc_id"]: d["text"] for d in facts.docs}
    pairs = injection.raft_prompts(facts, facts.train_qa, copies=1, tokenizer=tokenizer, max_tokens=300)
    assert max(len(tokenizer(p, verbose=False)["input_ids"]) for p, _ in pairs) <= 300
    untrimmed = injection.raft_prompts(facts, facts.train_qa, copies=1)
    for (p, _), (q, _), row in zip(pairs, untrimmed, facts.train_qa, strict=True):
        assert (by_id[row["doc_id"]] in p) == (by_id[row["doc_id"]] in q)  # trimming drops distractors only


def test_reading_passages_put_the_gold_document_among_look_alikes(facts, tokenizer):
    by_id = {d["doc_id"]: d["text"] for d in facts.docs}
    rows = facts.eval_qa[:30]
    for n in (0, 2, 4):
        lists = injection.reading_passages(facts, rows, n)
        assert all(len(p) == n + 1 and by_id[r["doc_id"]] in p for p, r in zip(lists, rows, strict=True))
    positions = {p.index(by_id[r["doc_id"]]) for p, r in zip(injection.reading_passages(facts, rows, 2), rows,
                                                              strict=True)}
    assert positions == {0, 1, 2}
    # point 4: fitted to the context, look-alikes go and the gold document stays, in every prompt
    fitted = injection.reading_passages(facts, facts.eval_qa, 4, tokenizer=tokenizer)
    assert all(by_id[r["doc_id"]] in p and prompt_tokens(tokenizer, r["question"], p) <= MAX_PROMPT
               for p, r in zip(fitted, facts.eval_qa, strict=True))
    assert 0 < fewer_than_asked(fitted, 4) < len(fitted) and fewer_than_asked(fitted, 0) == 0


def test_a_changed_fact(facts):
    target = fact_change.change_target(facts)
    assert target["doc"] in facts.eval_docs and target["old"] in target["doc"]["text"] and target["questions"]
    changed = fact_change.changed_document(target["doc"], target["old"], target["new"])
    assert target["new"] in changed["text"] and target["old"] not in changed["text"]
    renderings = fact_change.changed_renderings(target["doc"], target["old"], target["new"], 10)
    assert all(target["new"] in t for t in renderings)
    with pytest.raises(ValueError, match="does not occur"):
        fact_change.changed_document(target["doc"], "$0", "$1")


def test_twenty_changed_facts(facts):
    targets = fact_change.change_targets(facts)
    assert len(targets) == fact_change.N_CHANGED == len({t["doc"]["doc_id"] for t in targets})
    for t in targets:
        assert t["doc"] in facts.eval_docs and len(t["questions"]) == 2 and t["new"] != t["old"]
        texts = fact_change.changed_renderings(t["doc"], t["old"], t["new"], 10)
        assert all(occurrences(t["new"], x) == 1 and occurrences(t["old"], x) == 0 for x in texts)
    answers = [t["new"] for t in targets for _ in t["questions"]]
    assert fact_change.count_values(answers, targets) == {"new": 40, "old": 0, "other": 0}
    answers[0], answers[1] = targets[0]["old"], "nothing"
    assert fact_change.count_values(answers, targets) == {"new": 38, "old": 1, "other": 1}
    assert fact_change.new_hits(answers, targets) == "00" + "1" * 38
    with pytest.raises(ValueError, match="answers"):
        fact_change.count_values(answers[:3], targets)
    with pytest.raises(ValueError, match="answers"):
        fact_change.new_hits(answers[:3], targets)
    # an instruct model answers in sentences: containment finds the value, exact match does not
    sentences = [f"The answer is {t['new']}." for t in targets for _ in t["questions"]]
    assert fact_change.count_values(sentences, targets) == {"new": 0, "old": 0, "other": 40}
    assert fact_change.count_values(sentences, targets, contains=True) == {"new": 40, "old": 0, "other": 0}
    sentences[0] = f"It was {targets[0]['old']} before."
    assert fact_change.new_hits(sentences, targets, contains=True) == "0" + "1" * 39


def test_an_update_trains_its_budget_and_scores_the_rows_given(facts):
    """``update_facts`` with a step and batch budget of its own, scored on a subset of the evaluation questions."""
    model, tokenizer = load_model(device="cpu")
    targets = fact_change.change_targets(facts)[:2]
    rows = facts.eval_qa[:6]
    update = fact_change.update_facts(model, tokenizer, facts, targets, "full", steps=2, batch_size=2, eval_rows=rows)
    assert update["steps"] == 2 and 0 < update["update_tokens"] <= 2 * 2 * injection.BLOCK_SIZE
    assert sum(update["after"].values()) == len(update["questions"]) == sum(len(t["questions"]) for t in targets)
    assert 0 <= update["unchanged_em_after"] <= 1
    assert update["new_hits"] == fact_change.new_hits(update["answers_after"], targets)
    assert update["unchanged_n"] == sum(r["fact_id"] not in {t["fact_id"] for t in targets} for r in rows)


def test_a_one_fact_update_trains_its_budget(facts):
    """``update_fact`` with a step, batch and rate budget of its own (the real model's command passes them)."""
    model, tokenizer = load_model(device="cpu")
    update = fact_change.update_fact(model, tokenizer, facts, "full", steps=2, batch_size=2, lr=1e-4)
    assert update["steps"] == 2 and update["batch_size"] == 2 and 0 < update["update_tokens"] <= 2 * 2 * 256
    assert len(update["after"]) == len(update["questions"]) == len(update["preference_after"])
    assert sum(update["counts_after"].values()) == sum(update["counts_before"].values()) == len(update["questions"])


def test_the_sweep_file_was_made_by_this_code():
    """Lesson 05 reads results/05_injection.json (45 min to remake): its fact set and arms must be what the code
    makes today, so that a change to ftrag.tasks.injection that would need a rerun of the sweep fails here."""
    record = json.loads((repo_root() / "results" / "05_injection.json").read_text())
    facts = injection.fact_set(seed=record["budget"]["seed"])
    assert record["fact_set"]["eval_docs"] == [d["doc_id"] for d in facts.eval_docs]
    assert set(injection.ARMS) <= set(record["rows"]), "an arm of ftrag.tasks.injection is missing: rerun the sweep"
    for name in ["closed-book", *injection.ARMS]:
        missing = [m for m in METRICS if m not in record["rows"][name]]
        assert not missing, f"{name} lacks {missing}: rerun the sweep"
    assert record["budget"]["lr_grid"] == {m: list(v) for m, v in injection.LR_GRID.items()}
    for method in ("full", "lora"):
        grid = record["rows"][f"learning-rate grid, {method}"]
        assert [run["lr"] for run in grid["runs"]] == list(injection.LR_GRID[method])
        best = max(grid["runs"], key=lambda run: run["validation"])  # the selection used validation, nothing else
        assert grid["selected_lr"] == best["lr"] == record["rows"][grid["arm"]]["lr"]


def test_results_files_round_and_refuse_bad_values(tmp_path, monkeypatch):
    import ftrag.results as results

    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))  # where the tests' lessons write (conftest sets one)
    monkeypatch.setattr(results, "results_dir", lambda: tmp_path / "committed")
    save_results("99_test", {"a": 0.123456789, "b": [1, 2.5], "c": {"d": "x"}})
    assert json.loads((tmp_path / "99_test.json").read_text()) == {"a": 0.1235, "b": [1, 2.5], "c": {"d": "x"}}
    assert not (tmp_path / "committed").exists()  # the committed results are not touched
    monkeypatch.delenv(results.RESULTS_ENV)
    save_results("99_test", {"a": 1})
    assert json.loads((tmp_path / "committed" / "99_test.json").read_text()) == {"a": 1}
    with pytest.raises(ValueError, match="finite"):
        save_results("99_test", {"a": float("nan")})
    with pytest.raises(ValueError, match="non-empty"):
        save_results("99_test", {})
    with pytest.raises(FileNotFoundError, match="run the lesson"):
        results.load_results("98_missing")


def test_decision_guide_agrees_with_the_lessons_results():
    """docs/decision_guide.md is exactly what the results files of lessons 01-05 say (python -m ftrag.course.guide)."""
    assert guide.guide_path().read_text() == guide.markdown(), \
        "docs/decision_guide.md disagrees with results/: run `python -m ftrag.course.guide` after rerunning a lesson"
    for stem in decision.LESSONS.values():
        assert load_results(stem), f"results/{stem}.json is empty"
    assert len(decision.table()) == len(decision.ROWS)


def test_every_verdict_follows_from_its_numbers_and_stops_when_they_change():
    """Each row's rule holds on the recorded numbers; change a number the rule reads and the guide refuses."""
    values = decision.recorded_values()
    decision.check(values)
    for i, (_, do, _, rule) in enumerate(decision.ROWS, 1):
        assert decision.holds(rule, values), f"row {i} ({do}): {decision.shown_rule(rule, values)}"
    # RAG no better than fine-tuning on the fact documents: the "Retrieve" row no longer follows
    facts_row = next(i for i, row in enumerate(decision.ROWS, 1) if "{05:docs_full_em}" in row[3])
    changed = copy.deepcopy(values)
    changed["05"]["docs_full_em"] = changed["05"]["rag_em"]
    with pytest.raises(ValueError, match=f"row {facts_row} .*docs_full_em"):
        decision.check(changed)
    with pytest.raises(ValueError, match="no longer support"):
        guide.markdown(changed)
    # equal forgetting decided by the sweep: if LoRA had learned the dialect as well, the forgetting row fails
    forget_row = next(i for i, row in enumerate(decision.ROWS, 1) if "sweep_lora" in row[3])
    changed = copy.deepcopy(values)
    changed["03"]["sweep_lora_dialect_ppl_kept"] = changed["03"]["sweep_full_dialect_ppl_kept"]
    with pytest.raises(ValueError, match=f"row {forget_row} "):
        decision.check(changed)


def test_claim_verdicts_follow_from_the_numbers():
    """Each claim's verdict is computed from its rules; a changed number changes it, inconsistent rules are refused."""
    values = decision.recorded_values()
    verdicts = [row["verdict"] for row in decision.claims_table(values)]
    assert set(verdicts) <= set(decision.VERDICTS) and len(verdicts) == len(decision.CLAIMS) >= 8
    dilution = next(c for c in decision.CLAIMS if "{04:em_8_passages}" in c["supports"])
    assert decision.claim_verdict(dilution, values) == "supports"
    changed = copy.deepcopy(values)
    changed["04"]["em_8_passages"] = changed["04"]["em_1_passage"]
    assert decision.claim_verdict(dilution, changed) == "contradicts"
    changed["04"]["em_8_passages"] = changed["04"]["em_1_passage"] - 0.05
    assert decision.claim_verdict(dilution, changed) == "cannot decide"
    both = {**dilution, "contradicts": dilution["supports"]}
    with pytest.raises(ValueError, match="make them exclusive"):
        decision.claim_verdict(both, values)
    assert decision.claim_verdict({**dilution, "supports": "", "contradicts": ""}, values) == "not measured here"


def test_rules_read_numbers_and_nothing_else():
    values = {"05": {"a": 0.5, "b": 0.2}}
    assert decision.holds("{05:a} - {05:b} >= 0.25 and 0 < {05:b} < 1", values)
    assert not decision.holds("{05:a} * 2 < {05:b} or {05:b} > 0.3", values)
    with pytest.raises(ValueError, match="reads no recorded number"):
        decision.holds("1 < 2", values)
    with pytest.raises(ValueError, match="a rule may use"):
        decision.holds("__import__('os') or {05:a}", values)
    with pytest.raises(KeyError, match="has no 'c'"):
        decision.holds("{05:c} > 0", values)
    sweep = {"rows": [{"method": "base", "world_a_ppl": 2.0, "dialect_ppl": 100.0},
                      {"method": "lora", "world_a_ppl": 2.01, "dialect_ppl": 50.0},
                      {"method": "lora", "world_a_ppl": 2.5, "dialect_ppl": 5.0},
                      {"method": "full", "world_a_ppl": 2.0, "dialect_ppl": 20.0}]}
    assert decision.sweep_values(sweep) == {"sweep_lora_dialect_ppl_kept": 50.0, "sweep_full_dialect_ppl_kept": 20.0}


def test_guide_numbers_come_from_the_files():
    values = {"05": {"rag_em": 0.875}}
    assert decision.fill("RAG {05:rag_em:.2f} [05]", values, links=False) == "RAG 0.88 (lesson 05)"
    with pytest.raises(KeyError, match="has no 'nothing'"):
        decision.fill("{05:nothing}", values)
    with pytest.raises(KeyError, match="no results file for lesson 07"):
        decision.fill("{07:x}", values)
