"""The lessons on the real model (SmolLM2-135M-Instruct): its results files, the guide's "carries over?" column,
and the command that measures lesson 02 on it (``python -m ftrag.course.real_json``)."""

import copy
import json
import re

import pytest

from ftrag import decision
from ftrag.course import guide, real_basics, real_json
from ftrag.lm import load_model, prompt_ids
from ftrag.lm.generation import CHAT_EXAMPLE
from ftrag.paths import repo_root
from ftrag.results import load_results, results_dir
from ftrag.tasks import injection, kinds_of_text
from ftrag.tasks import json_output as jt
from ftrag.tasks.facts import fact_set

# The keys the guide's rules read that the real model's runs do not measure, by lesson: full fine-tuning of a
# 135M model (02), the full fine-tuning runs of lesson 03's section 4 and its learn-vs-forget sweep (03), lesson 05's
# RAFT arms, and World A perplexity after its arms (the real model never read World A: the replay blocks teach it,
# so the number does not measure forgetting). Every other key must be in its results file (or be READER_FREE).
NOT_MEASURED_ON_REAL = {
    "01": set(),
    "02": {"full_field_em"},
    "03": {"full_world_a_ppl", "sweep_full_dialect_ppl_kept", "sweep_lora_dialect_ppl_kept"},
    "04": set(),
    "05": {"docs_full_world_a_ppl", "docs_lora_world_a_ppl", "mixed_k10_no_replay_world_a_ppl",
           "mixed_k10_world_a_ppl", "raft_minus_control_gold_4_low", "raft_minus_plain_gold_2_low"},
}

COMMANDS = {"01": "real_basics", "02": "real_json", "03": "real_dialect", "04": "real_rag", "05": "real_facts"}


def test_the_real_results_hold_every_key_the_guide_reads():
    real = decision.real_values()
    for lesson, stem in decision.LESSONS.items():
        path = results_dir() / decision.REAL_MODEL / f"{stem}.json"
        assert path.is_file(), f"{path} is missing: run `python -m ftrag.course.{COMMANDS[lesson]}`"
        record = json.loads(path.read_text())
        assert record["command"].startswith(f"python -m ftrag.course.{COMMANDS[lesson]}")
        assert record["cpu"] and record["threads"] and record["date"] and record["seconds_last_run"] > 0
        read = {key for _, _, _, rule in decision.ROWS for les, key in re.findall(r"\{(\d\d):(\w+)", rule)
                if les == lesson}
        missing = read - set(real[lesson])
        assert missing == NOT_MEASURED_ON_REAL[lesson], \
            f"lesson {lesson}: the guide reads {sorted(missing)} that results/smollm2 lacks (expected exactly " \
            f"{sorted(NOT_MEASURED_ON_REAL[lesson])}): rerun the command, or say here why it is not measured"
    record = json.loads((results_dir() / decision.REAL_MODEL / "02_json_finetuning.json").read_text())
    assert set(record["rows"]) == set(real_json.ARMS), "the recorded run is missing arms: rerun the command"


def test_carries_over_follows_the_stated_rule():
    rule = "{02:a} <= 0.05 and {02:b} >= 0.5 and {02:c} > 0"
    assert decision.clauses(rule) == ["{02:a} <= 0.05", "{02:b} >= 0.5", "{02:c} > 0"]
    assert decision.clauses("{02:a} > 0 or {02:b} > 0") == ["{02:a} > 0 or {02:b} > 0"]
    assert decision.carries_over(rule, {"02": {"a": 0.0, "b": 0.9, "c": 1.0}})[0] == "yes"
    verdict, outcomes = decision.carries_over(rule, {"02": {"a": 0.6, "b": 0.9}})
    assert verdict == "partly" and [o for o, _ in outcomes] == ["fails", "holds", "not measured"]
    assert outcomes[0][1] == "02:a (0.6) <= 0.05" and outcomes[2][1] == "02:c > 0"
    assert decision.carries_over(rule, {"02": {"a": 0.6, "b": 0.1}})[0] == "no"
    assert decision.carries_over(rule, {})[0] == "not measured yet"
    assert decision.carries_over_text(rule + " and {05:d} > 0", {}) == \
        "**not measured yet**: 02:a, 02:b, 02:c, 05:d not recorded for this model"
    # retrieval numbers are the same for every reader: read from the course model's results, and marked so
    shared = decision.with_reader_free({}, {"04": {"bm25_recall_at_1": 0.99, "rag_em": 0.8}})
    assert shared == {"04": {"bm25_recall_at_1": 0.99}}
    verdict, outcomes = decision.carries_over("{04:bm25_recall_at_1} > 0.9 and {04:rag_em} > 0.5", shared)
    assert verdict == "yes" and outcomes[0] == ("holds", "04:bm25_recall_at_1 (0.99) > 0.9 (same retrieval)")
    assert outcomes[1][0] == "not measured"
    text = decision.carries_over_text(rule, {"02": {"a": 0.6, "b": 0.9}})
    assert text.startswith("**partly** (2 of 3 clauses measured): fails `02:a (0.6) <= 0.05`")
    assert real_json.guide_keys({"rows": {"lora": {"field_em": 0.9, "first_output": "{", "ok": True}}}) == \
        {"lora_field_em": 0.9}


def test_the_guide_shows_the_real_model_and_changes_with_its_numbers():
    """The guide's last column comes from results/smollm2: change a number there and the page changes."""
    real = decision.real_values()
    page = guide.markdown(real=real)
    assert "carries over?" in page and page == guide.guide_path().read_text()
    format_row = decision.ROWS[0][3]
    assert "{02:one_shot_parse}" in format_row
    changed = copy.deepcopy(real)
    changed["02"]["one_shot_parse"] = 1.0 - real["02"]["one_shot_parse"]
    assert decision.carries_over_text(format_row, changed) != decision.carries_over_text(format_row, real)
    assert guide.markdown(real=changed) != page


@pytest.mark.slow  # loads the real model's tokenizer (and builds its cache on a fresh machine)
def test_instruct_prompts_use_the_chat_template():
    tok = load_model("smollm2", device="cpu")[1]
    row = jt.load_split("train")[0]
    zero = jt.task_prompt("A notice.", tok)
    assert zero.startswith("<|im_start|>system\n" + jt.JSON_INSTRUCTION) and zero.endswith("<|im_start|>assistant\n")
    assert "Passage: A notice.\nQuestion: " + jt.JSON_QUESTION in zero and "Answer:" not in zero
    one = jt.few_shot_prompt("A notice.", [row], tok)
    assert one.count("<|im_start|>user") == 2 and jt.serialize(row["target"]) + "<|im_end|>" in one
    ex = jt.sft_example(tok, "A notice.", row["target"])
    n_prompt = len(tok(zero, add_special_tokens=False)["input_ids"])
    assert ex["input_ids"][:n_prompt] == tok(zero, add_special_tokens=False)["input_ids"]
    assert tok.decode(ex["input_ids"][n_prompt:]) == jt.serialize(row["target"]) + tok.eos_token
    assert ex["labels"][:n_prompt] == [-100] * n_prompt and ex["labels"][n_prompt:] == ex["input_ids"][n_prompt:]
    # the course model's prompts are unchanged
    assert jt.task_prompt("A notice.") == f"Passage: A notice.\nQuestion: {jt.JSON_QUESTION}\nAnswer:"


def test_raft_prompts_speak_an_instruct_models_chat_turn():
    """RAFT's reader arms train on the prompt the reader is asked with: the chat turn, trimmed to fit in its ids."""
    tok = load_model("smollm2", device="cpu")[1]
    facts = fact_set()
    rows = facts.train_qa[:12]
    pairs = injection.raft_prompts(facts, rows, copies=1, seed=0, tokenizer=tok, max_tokens=400)
    plain = injection.raft_prompts(facts, rows, copies=1, seed=0)
    for (chat, answer), (lines, same), row in zip(pairs, plain, rows, strict=True):
        assert answer == same == row["answer"] and row["question"] in chat
        assert chat.startswith("<|im_start|>system\n") and chat.endswith("<|im_start|>assistant\n")
        assert "Answer:" not in chat.split("<|im_start|>user")[-1]  # the chat turn, not the course's lines
        assert len(prompt_ids(tok, chat)) <= 400
        assert set(re.findall(r"Passage: (.*)", chat)) - {CHAT_EXAMPLE["passage"]} <= set(
            re.findall(r"Passage: (.*)", lines))  # the same passages, or fewer where the turn needed trimming
    example = injection.answer_example(tok, *pairs[0])
    assert tok.decode([t for t in example["labels"] if t >= 0]) == rows[0]["answer"] + tok.eos_token


@pytest.mark.slow
def test_the_real_json_command_runs_and_resumes(tmp_path, capsys):
    out = tmp_path / "02.json"
    real_json.main(["--n-test", "2", "--steps", "1", "--batch-size", "1", "--threads", "1", "--out", str(out)])
    record = json.loads(out.read_text())
    assert set(record["rows"]) == set(real_json.ARMS) and record["budget"]["n_test"] == 2
    assert record["rows"]["constrained"]["parse"] == 1.0  # the grammar makes every output parse
    for arm in ("lora", "trl_lora"):
        assert record["rows"][arm]["train_seconds"] > 0 and 0 < record["rows"][arm]["trained_percent"] < 5
    assert set(record["values"]) >= {"zero_shot_parse", "lora_field_em", "trl_lora_field_em"}
    capsys.readouterr()
    real_json.main(["--n-test", "2", "--steps", "1", "--batch-size", "1", "--threads", "1", "--out", str(out)])
    assert "scoring" not in capsys.readouterr().out, "a complete record is resumed, not redone"
    with pytest.raises(ValueError, match="unknown arm 'nope'"):
        real_json.sweep(out, arms=("nope",))


@pytest.mark.slow
def test_the_real_reading_commands_run_on_a_sample(tmp_path):
    """Lessons 04 and 05 with the real model as the reader, on one and two questions: every arm, every key."""
    from ftrag.course import real_facts, real_rag

    out = tmp_path / "04.json"
    real_rag.main(["--n-questions", "1", "--threads", "1", "--out", str(out)])
    record = json.loads(out.read_text())
    assert set(record["rows"]) == {"closed_book", "oracle", "rag", "gold_first", "gold_middle", "gold_last",
                                   *(f"k{k}" for k in real_rag.DILUTION_K)}
    assert record["answer_metric"] == "contains_answer"
    assert {"rag_em", "closed_book_em", "em_1_passage", "em_8_passages"} <= set(record["values"])
    out = tmp_path / "05.json"
    real_facts.main(["--n-questions", "2", "--n-long", "1", "--threads", "1", "--out", str(out)])
    record = json.loads(out.read_text())
    assert record["rows"]["long_context"]["prompt_tokens"] > 4000  # most of World B in the window
    assert record["context_tokens"] == 8192 and record["world_b_tokens"] > record["context_tokens"]
    assert record["rows"]["rag"]["prompt_tokens"] > record["rows"]["closed_book"]["prompt_tokens"]
    weak = record["rows"]["weak_reader_rag"]  # the weaker reader on RAG's same two passages
    assert weak["model"] == real_facts.WEAK_READER and weak["n"] == 2
    assert record["values"]["weak_reader_rag_em"] == weak["contains"]
    assert record["values"]["course_reader_rag_em"] == record["rows"]["rag"]["contains"]
    with pytest.raises(ValueError, match="n_questions must be between 1 and"):
        real_facts.sweep(out, n_questions=0)


@pytest.mark.slow
def test_the_real_dialect_command_runs_on_a_sample(tmp_path):
    from ftrag.course import real_dialect

    out = tmp_path / "03.json"
    real_dialect.main(["--n-test", "2", "--n-rag", "1", "--n-closing", "1", "--steps", "1", "--threads", "1", "--out",
                       str(out)])
    record = json.loads(out.read_text())
    values = record["values"]
    assert set(values) >= {"base_dialect_ppl", "lora_dialect_ppl", "best_rag_context_ppl", "lora_ppl_same_memos"}
    assert all(v > 1 for k, v in values.items() if k.endswith("_ppl"))
    # The closing-line task on one memo: lesson 03's keys, each a hit or a miss, and the LoRA run trained again for
    # it is the lora row's run (the same seed and blocks).
    assert {"closing_em_base", "closing_em_copy_top", "closing_em_finetuned",
            "closing_em_same_header_context_best"} <= set(values)
    assert all(v in (0.0, 1.0) for k, v in values.items() if k.startswith("closing_"))
    assert record["rows"]["closing"]["n"] == 1 and "--n-closing 1" in record["command"]
    assert record["rows"]["closing, LoRA"]["final_loss"] == pytest.approx(record["rows"]["lora"]["final_loss"],
                                                                          rel=1e-3)
    with pytest.raises(ValueError, match="n_rag <= n_test"):
        real_dialect.sweep(out, n_test=1, n_rag=2)


def _code_cells(stem: str) -> list[str]:
    import nbformat

    nb = nbformat.read(repo_root() / "notebooks" / f"{stem}.ipynb", as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("stem", ["01_autoregressive_prediction", "02_json_finetuning", "03_dialect_finetuning",
                                  "04_rag_pipeline", "05_finetune_or_rag"])
def test_another_models_samples_are_named_in_the_parameters_cell(stem):
    """``OTHER_MODEL`` replaces only values the parameters cell defines, only on another model: every sample size
    and training budget smaller; a budget for the answer (an instruct model writes sentences) larger; a record
    file that model's own (``results/smollm2/``)."""
    cells = _code_cells(stem)
    params = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    names: dict = {}
    exec(params.source, {}, names)  # the parameters cell is plain assignments
    other = names["OTHER_MODEL"]
    assert other and set(other) <= set(names), f"{stem}: OTHER_MODEL names sizes the parameters cell lacks"
    for key, value in other.items():  # None means "all": any number is smaller
        if key == "ANSWER_TOKENS":
            assert value > names[key], f"{stem}: an instruct model's answers need more tokens than {names[key]}"
        elif key.endswith("_FILE"):
            assert value.startswith(f"results/{decision.REAL_MODEL}/") and (repo_root() / value).is_file(), \
                f"{stem}: {key} {value} is not a committed record of the real model"
        else:
            assert names[key] is None or value < names[key], f"{stem}: {key} {value} is not smaller than {names[key]}"
    applying = next(c.source for c in cells if "OTHER_MODEL[k]" in c.source)
    assert "if not is_course_model(model):" in applying
    for key in other:
        assert f'"{key}"' in applying, f"{stem}: the notebook never applies OTHER_MODEL's {key}"


def test_lesson_05_reads_another_models_own_arms():
    """On another model lesson 05 scores a sample live and reads that model's own record of fine-tuning arms (never
    the course model's rows beside its live numbers); every cell that needs a course-only arm asks ``COURSE``."""
    cells = _code_cells("05_finetune_or_rag")
    loading = next(c.source for c in cells if "load_model(MODEL_NAME" in c.source)
    assert "raise" not in loading and "COURSE = is_course_model(model)" in loading
    assert "eval_qa = facts.eval_qa[:N_EVAL]" in loading
    sweep = next(c.source for c in cells if "json.loads((repo_root() / SWEEP_FILE)" in c.source)
    assert "injection.record_rows(sweep, facts.eval_qa)" in sweep
    for arm in ("mixed, k=10, seed 1", "memorised questions\"]", "RAFT reader\"]", "mixed, k=10, no replay\"]"):
        for cell in cells:  # (``arm_rows``: section 13's record of the real model's own arms, not the course's rows)
            if re.search(r'\brows\["' + re.escape(arm), cell.source):
                assert "if COURSE" in cell.source, f"a cell reads the course-only arm {arm!r} without asking COURSE"


def test_a_real_models_record_reads_as_the_sweeps_rows():
    """``injection.record_rows`` and ``real_injection.guide_keys`` on a small record: containment is the metric,
    the hits by question kind, RAG minus the best arm with a paired interval, lesson 05's keys."""
    from ftrag.course import real_injection
    from ftrag.tasks import injection

    qa = [{"kind": "lexical"}, {"kind": "paraphrased"}, {"kind": "lexical"}, {"kind": "paraphrased"}]

    def row(contains, rag, **extra):
        return {"contains": contains.count("1") / 4, "contains_hits": contains, "strict_em": 0.0, "strict_hits": "0000",
                "rag_contains": rag.count("1") / 4, "rag_contains_hits": rag, "rag_strict_em": 0.0,
                "rag_strict_hits": "0000", "mc": 0.5, "mc_hits": "1100", "world_a_ppl": 20.0, "rc_em": 0.1, "n": 4,
                **extra}

    record = {"answer_metric": "contains_answer", "budget": {"steps": 60, "batch_size": 4, "block_size": 256},
              "rows": {"closed-book": row("0000", "1111"),
                       "mixed, k=10, LoRA": row("1000", "1110", train_seconds=300.0, tokens=61440),
                       "documents, LoRA": row("0000", "1100", train_seconds=290.0, tokens=61440)}}
    rows = injection.record_rows(record, qa)
    assert rows["mixed, k=10, LoRA"]["em"] == 0.25 and rows["mixed, k=10, LoRA"]["em_hits"] == "1000"
    assert rows["mixed, k=10, LoRA"]["em_lexical"] == 0.5 and rows["mixed, k=10, LoRA"]["rag_em_paraphrased"] == 0.5
    assert rows["closed-book"]["rag_hits"] == "1111" and rows["documents, LoRA"]["budget"] == "61k tokens"
    keys = real_injection.guide_keys(record)
    assert keys["best_ft_em"] == 0.25 and keys["rag_minus_best_ft"] == 0.75 and keys["rag_minus_best_ft_low"] <= 0.75
    assert {"docs_lora_em", "mixed_k10_lora_em", "docs_lora_mc", "base_world_a_ppl"} <= set(keys)
    assert "docs_lora_world_a_ppl" not in keys, "World A perplexity does not measure this model's forgetting"
    with pytest.raises(ValueError, match="scored 4 questions, not these 3"):
        injection.record_rows(record, qa[:3])
    # The memorised arm (trained on the lexical questions' strings) gives the trained-vs-reworded keys from the
    # questions' kinds, and is not a candidate for the best arm.
    facts = injection.fact_set()
    kinds = [r["kind"] for r in facts.eval_qa[:4]]
    record["budget"].update(seed=0, n_questions=4)
    record["fact_set"] = {"eval_docs": [d["doc_id"] for d in facts.eval_docs]}
    record["rows"]["memorised questions"] = row("1101", "1111", steps=60, batch_size=16)
    keys = real_injection.guide_keys(record)
    hits = {kind: [h for h, k in zip("1101", kinds, strict=True) if k == kind] for kind in ("lexical", "paraphrased")}
    assert keys["memorised_em_trained_wording"] == round(hits["lexical"].count("1") / len(hits["lexical"]), 4)
    assert keys["memorised_em_reworded"] == round(hits["paraphrased"].count("1") / len(hits["paraphrased"]), 4)
    assert keys["best_ft_em"] == 0.25, "the memorised questions are not a fact arm"
    assert injection.record_rows(record, facts.eval_qa[:4])["memorised questions"]["budget"] == "60 x 16 examples"
    # The paraphrase curve's ends give k = 10 minus k = 1 with its interval; the updated arm gives the update's keys.
    record["rows"]["mixed, k=1"] = row("0000", "1111")
    update = {"questions": ["q"] * 4, "facts": [{}, {}], "unchanged_em_before": 0.5, "unchanged_em_after": 0.25,
              "update_tokens": 2048, "after": {"new": 1, "old": 1, "other": 2}, "rag_after": {"new": 3, "old": 0,
              "other": 1}, "new_hits": "1000", "rag_new_hits": "1110"}
    record["rows"]["mixed, k=10"] = row("1100", "1111", update=update)
    keys = real_injection.guide_keys(record)
    assert keys["mixed_k10_em_gain"] == 0.5 and keys["mixed_k10_em_gain_low"] <= 0.5 <= keys["mixed_k10_em_gain_high"]
    assert keys["changed_facts_rag_minus_ft_new"] == 0.5 and keys["changed_facts_ft_old"] == 0.25
    assert keys["ft_update_per_fact_tokens_20"] == 1024 and keys["ft_update_unchanged_em_after"] == 0.25
    with pytest.raises(ValueError, match="'RAFT reader' is not an arm this command trains"):
        real_injection.sweep("unused.json", arms=("RAFT reader",))
    with pytest.raises(ValueError, match="unknown arm 'nope'"):
        real_injection.sweep("unused.json", arms=("nope",))


@pytest.mark.slow  # loads and trains the real model (builds its cache on a fresh machine)
def test_the_real_injection_command_runs_and_resumes(tmp_path, monkeypatch):
    """Lesson 05's LoRA arm on the real model, one step on two questions (World A and validation cut short here):
    the rows, the keys, and a rerun that resumes instead of training again."""
    from ftrag.course import real_injection
    from ftrag.lm import prompt_for, world_a_scores
    from ftrag.lm.generation import prompt_ids
    from ftrag.tasks import injection, knowledge_scores

    monkeypatch.setattr(real_injection, "world_a_scores", lambda m, t: world_a_scores(m, t, n_heldout=2, n_rc=2))
    monkeypatch.setattr(real_injection, "ONE_FACT_STEPS", 1)
    small = injection.fact_set()
    small.valid_qa[:] = small.valid_qa[:2]
    monkeypatch.setattr(injection, "fact_set", lambda seed=0: small)
    monkeypatch.setattr(real_injection, "fact_set", lambda seed=0: small)
    out = tmp_path / "05_injection.json"
    args = ["--arms", "documents, LoRA", "memorised questions", "--steps", "1", "--batch-size", "1", "--eval-every",
            "1", "--n-questions", "2", "--threads", "1", "--out", str(out)]
    saves = []  # each arm trains with its own checkpoint beside the record (resume mid-arm), deleted when done
    train_arm = real_injection.train_arm
    monkeypatch.setattr(real_injection, "train_arm",
                        lambda *a, **k: (saves.append(k["checkpoint"]), train_arm(*a, **k))[1])
    real_injection.main(args)
    assert saves == [real_injection.checkpoint_path(out, a) for a in ("documents, LoRA", "memorised questions")]
    assert saves[0].name == "05_injection.documents-lora.ckpt.pt" and not any(p.exists() for p in saves)
    record = json.loads(out.read_text())
    assert list(record["rows"]) == ["closed-book", "documents, LoRA", "memorised questions"]
    assert record["budget"]["n_questions"] == 2
    arm = record["rows"]["documents, LoRA"]
    assert arm["steps"] == 1 and arm["tokens"] == 256 and arm["trainable"] > 0 and arm["curve"][0]["step"] == 0
    assert arm["lr"] == injection.LR["lora"] and arm["batch_size"] == 1
    full = record["rows"]["memorised questions"]  # full fine-tuning, on a batch of question/answer examples
    assert full["lr"] == real_injection.FULL_LR and full["batch_size"] == real_injection.QA_BATCH_SIZE
    assert full["steps"] == 1 and full["trainable"] > 100e6
    one = full["one_fact_update"]  # section 6's changed price, on the memorised arm, at the text arms' batch
    assert one["steps"] == 1 and one["batch_size"] == 1 and one["lr"] == real_injection.FULL_LR
    assert 0 < one["update_tokens"] <= injection.BLOCK_SIZE and len(one["after"]) == len(one["questions"]) == 2
    assert sum(one["counts_after"].values()) == 2 and record["values"]["ft_update_fact_tokens"] == one["update_tokens"]
    assert {"docs_lora_em", "best_ft_em", "rag_minus_best_ft_low", "memorised_em_trained_wording",
            "memorised_em_reworded"} <= set(record["values"])
    assert record["seconds_all_runs"] == record["seconds_last_run"] > 0
    tokenizer = load_model("smollm2", device="cpu")[1]
    assert knowledge_scores.answer_tokens(tokenizer) == 24
    # The question arms train in the format the model is asked in: its chat turn, then the answer and end of turn.
    row = small.eval_qa[0]
    example = injection.memorise_examples(tokenizer, [row])[0]
    prompt = prompt_ids(tokenizer, prompt_for(tokenizer, row["question"]))
    assert example["input_ids"][:len(prompt)] == prompt
    assert tokenizer.decode([t for t in example["labels"] if t >= 0]) == row["answer"] + tokenizer.eos_token
    real_injection.main(args)
    again = json.loads(out.read_text())
    assert again["rows"] == record["rows"] and again["seconds_last_run"] == record["seconds_last_run"], \
        "a complete record is resumed, not trained again"
    # A memorised row recorded before the one-fact update existed: the arm is trained again for it, its scores kept.
    del again["rows"]["memorised questions"]["one_fact_update"]
    out.write_text(json.dumps(again))
    real_injection.main(args)
    third = json.loads(out.read_text())
    one_again = third["rows"]["memorised questions"].pop("one_fact_update")
    assert third["rows"] == again["rows"] and one_again["arm_final_loss_retrained"] == full["final_loss"]
    assert one_again["after"] == one["after"] and one_again["update_tokens"] == one["update_tokens"]


def test_a_retrained_arm_keeps_its_recorded_scores_only_if_it_ended_where_they_did(capsys):
    from ftrag.course import real_injection

    assert real_injection.same_arm({"final_loss": 0.2914}, {"final_loss": 0.2914})
    assert real_injection.same_arm({"final_loss": 2.0}, {"final_loss": 2.0019})
    assert not real_injection.same_arm({"final_loss": 0.2914}, {"final_loss": 0.2950})
    assert "scoring it again" in capsys.readouterr().out


def test_lessons_00_and_01_record_the_same_keys_for_both_models():
    """The notebooks write the course model's numbers, ``python -m ftrag.course.real_basics`` the real model's."""
    for stem in ("00_start_here", "01_autoregressive_prediction"):
        record = json.loads((results_dir() / decision.REAL_MODEL / f"{stem}.json").read_text())
        assert record["command"].startswith("python -m ftrag.course.real_basics") and record["seconds_last_run"] > 0
        assert set(record["values"]) >= set(load_results(stem)), f"results/smollm2/{stem}.json lacks course keys"
    record = json.loads((results_dir() / decision.REAL_MODEL / "01_autoregressive_prediction.json").read_text())
    assert record["budget"]["n_texts"] == real_basics.N_TEXTS and record["values"] == kinds_of_text.perplexity_keys(
        {kind: record["rows"][kind]["perplexity"] for kind in kinds_of_text.KINDS})
    # Lesson 01 reads the same texts and the same story as the command: the notebook shows its story literally.
    source = (repo_root() / "authoring" / "01_autoregressive_prediction.py").read_text()
    assert f'story = "{kinds_of_text.STORY}"' in source and "texts_by_kind(N_TEXTS)" in source
    assert "perplexity_keys(ppl)" in source, "lesson 01 saves the keys the real model's record has"


def test_perplexity_keys_name_a_missing_kind():
    with pytest.raises(ValueError, match="missing"):
        kinds_of_text.perplexity_keys({"World A (held out)": 5.0})
    with pytest.raises(ValueError, match=">= 1"):
        kinds_of_text.texts_by_kind(0)


@pytest.mark.slow
def test_the_real_basics_command_runs_and_resumes(tmp_path, capsys):
    real_basics.main(["--n-questions", "2", "--n-texts", "2", "--threads", "1", "--out-dir", str(tmp_path)])
    first = json.loads((tmp_path / "00_start_here.json").read_text())
    assert set(first["rows"]) == {"read_world_a", "closed_world_b"} and first["answer_metric"] == "contains_answer"
    assert set(first["values"]) == {"em_read", "em_closed", "em_read_strict_em", "em_closed_strict_em"}
    second = json.loads((tmp_path / "01_autoregressive_prediction.json").read_text())
    assert set(second["values"]) == {"ppl_world_a", "ppl_dialect", "ppl_json", "ppl_ratio_dialect", "ppl_ratio_json"}
    assert len(second["rows"]["next_tokens"]["top"]) == 5 and second["rows"]["JSON objects"]["texts"] == 2
    capsys.readouterr()
    real_basics.main(["--n-questions", "2", "--n-texts", "2", "--threads", "1", "--out-dir", str(tmp_path)])
    assert json.loads((tmp_path / "00_start_here.json").read_text())["rows"] == first["rows"], "resumed, not redone"
    with pytest.raises(ValueError, match="must be >= 1"):
        real_basics.sweep(tmp_path, n_texts=0)


@pytest.mark.slow  # lesson 00 on SmolLM2 (FTRAG_MODEL=smollm2): about a minute on 2 cores
def test_lesson_00_runs_to_the_end_on_the_real_model(tmp_path, monkeypatch):
    """A notebook's real-model path, in CI: every cell runs, the claims are reported (not asserted), and the
    course's results file is not written from another model's numbers. Run in memory: nothing is written back."""
    import nbformat
    from nbclient import NotebookClient

    from ftrag.env import RUN_ENV

    for key, value in {**RUN_ENV, "FTRAG_MODEL": "smollm2", "FTRAG_RESULTS": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    path = repo_root() / "notebooks" / "00_start_here.ipynb"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    reported = [line for line in printed.splitlines()
                if line.startswith(("claim holds for", "claim does NOT hold for"))]
    assert len(reported) == 2, printed[-2000:]  # lesson 00's two claims, each reported for the real model
    assert "results/00_start_here.json not written" in printed and not any(tmp_path.iterdir())
