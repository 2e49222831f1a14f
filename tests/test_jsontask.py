"""The JSON task of lesson 02: metrics, prompts, SFT masking and constrained decoding (on a tiny random model)."""

import json

import pytest
import torch

from ftrag.paths import data_path
from ftrag.tasks import json_output as jt

TARGET = {"event_type": "talk", "title": "Weekend Astronomy Lecture", "town": "Ulvard", "date": "2026-08-24",
          "seats": 13, "contact": {"name": "Nina Wojcik", "phone": "946-6276"}}
FIELDS = ["event_type", "title", "town", "date", "seats", "contact.name", "contact.phone"]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(data_path("models", "course-lm"))
    tok.padding_side = "left"
    return tok


@pytest.fixture(scope="module")
def tiny(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, intermediate_size=64, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=0, pad_token_id=0)).eval()


def test_schema_fields_and_data_agree():
    schema = jt.load_schema()
    assert jt.field_paths(schema) == FIELDS
    rows = jt.load_split("test")
    assert rows and all(r["target"].keys() == schema["properties"].keys() for r in rows)
    assert jt.score([jt.serialize(r["target"]) for r in rows], [r["target"] for r in rows]) == {
        "parse": 1.0, "parse_object": 1.0, "schema_valid": 1.0, "field_em": 1.0, "object_em": 1.0,
        "per_field": dict.fromkeys(FIELDS, 1.0)}
    with pytest.raises(ValueError, match="train"):
        jt.load_split("dev")


def test_serialize_is_canonical_whatever_the_key_order():
    shuffled = dict(reversed(list(TARGET.items())))
    shuffled["contact"] = {"phone": "946-6276", "name": "Nina Wojcik"}
    text = jt.serialize(shuffled)
    assert text == jt.serialize(TARGET) == json.dumps(TARGET)
    assert text.startswith('{"event_type": "talk", "title"') and '"seats": 13,' in text
    with pytest.raises(ValueError, match="dict"):
        jt.serialize("{}")


def test_score_edge_cases():
    good = json.dumps(TARGET)
    wrong_seats = json.dumps({**TARGET, "seats": "13"})  # a string where the schema wants an integer
    no_contact = json.dumps({k: v for k, v in TARGET.items() if k != "contact"})
    outputs = [good, wrong_seats, no_contact, "13", "not json {", ""]
    result = jt.score(outputs, [TARGET] * len(outputs))
    assert result["parse"] == pytest.approx(4 / 6)  # "13" is JSON, just not an object
    assert result["parse_object"] == pytest.approx(3 / 6)
    assert result["schema_valid"] == pytest.approx(1 / 6)
    assert result["object_em"] == pytest.approx(1 / 6)
    per_field = result["per_field"]
    assert per_field["seats"] == pytest.approx(2 / 6)  # "13" != 13: type counts
    assert per_field["contact.name"] == pytest.approx(2 / 6)  # missing nested field counts as wrong
    assert per_field["title"] == pytest.approx(3 / 6)  # unparseable outputs are wrong on every field
    assert result["field_em"] == pytest.approx(sum(per_field.values()) / 7)
    assert jt.score(["null"], [TARGET])["parse"] == 1.0 and jt.score(["null"], [TARGET])["field_em"] == 0.0
    assert jt.score([json.dumps({**TARGET, "date": "2026-02-30"})], [TARGET])["schema_valid"] == 0.0  # format
    assert jt.parse_json(" [1] ") == [1] and jt.parse_json("{") is None
    with pytest.raises(ValueError, match="pair up"):
        jt.score([good], [TARGET, TARGET])
    with pytest.raises(ValueError, match="list"):
        jt.score(good, [TARGET])


def test_results_table():
    table = jt.results_table({"a": jt.score([json.dumps(TARGET)], [TARGET]), "b": jt.score(["x"], [TARGET])})
    assert list(table.index) == ["a", "b"] and "per_field" not in table.columns
    assert table.loc["b", "parse"] == 0.0


def test_prompts_use_the_course_format():
    assert jt.task_prompt("A notice.") == f"Passage: A notice.\nQuestion: {jt.JSON_QUESTION}\nAnswer:"
    row = {"text": "Shot notice.", "target": TARGET}
    prompt = jt.few_shot_prompt("A notice.", [row])
    assert prompt == f"{jt.task_prompt('Shot notice.')} {json.dumps(TARGET)}\n\n{jt.task_prompt('A notice.')}"
    with pytest.raises(ValueError, match="list"):
        jt.few_shot_prompt("A notice.", row)


def test_sft_example_masks_the_prompt(tokenizer):
    ex = jt.sft_example(tokenizer, "A notice.", TARGET)
    prompt_ids = tokenizer(jt.task_prompt("A notice."))["input_ids"]
    n = len(prompt_ids)
    assert ex["input_ids"][:n] == prompt_ids and len(ex["labels"]) == len(ex["input_ids"])
    assert ex["labels"][:n] == [-100] * n and -100 not in ex["labels"][n:]
    assert ex["labels"][-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ex["labels"][n:-1]) == " " + json.dumps(TARGET)
    with pytest.raises(ValueError, match="max_length"):
        jt.sft_example(tokenizer, "A notice.", TARGET, max_length=20)


def test_check_fits_guards_the_context(tokenizer):
    rows = jt.load_split("train")[:3]
    assert jt.check_fits(tokenizer, [jt.few_shot_prompt("x", rows[:1])], 160, 512) < 352
    with pytest.raises(ValueError, match="context"):
        jt.check_fits(tokenizer, [jt.few_shot_prompt("x", rows)], 160, 512)


def test_constrained_decoding_always_parses(tiny, tokenizer):
    notices = [r["text"] for r in jt.load_split("test")[:4]]
    free = jt.generate(tiny, tokenizer, [jt.task_prompt(n) for n in notices], max_new_tokens=40)
    assert jt.score(free, [TARGET] * 4)["parse"] == 0.0  # a random model writes no JSON by itself
    constraint = jt.JsonConstraint(tokenizer)
    out = jt.constrained_outputs(tiny, tokenizer, notices, constraint, batch_size=2)
    assert jt.score(out, [TARGET] * 4)["parse"] == 1.0, out
    # The grammar enforces everything but the calendar: "format": "date" accepts 2026-09-18, not 2026-02-31,
    # which a regular grammar over digits cannot tell apart. Without the format check every output is valid.
    import jsonschema

    for text in out:
        jsonschema.Draft202012Validator(jt.load_schema()).validate(json.loads(text))


def test_the_three_splits_share_no_notice():
    texts = {split: {r["text"] for r in jt.load_split(split)} for split in ("train", "valid", "test")}
    assert [len(t) for t in texts.values()] == [3000, 200, 200]
    assert not texts["valid"] & texts["train"] and not texts["valid"] & texts["test"]
    assert not texts["train"] & texts["test"]


def test_random_code_is_fixed_by_id_and_seed_and_not_in_the_notice():
    rows = jt.load_split("test")[:50]
    coded = jt.with_random_code(rows, seed=0)
    assert coded == jt.with_random_code(rows, seed=0) and coded != jt.with_random_code(rows, seed=1)
    codes = [r["target"][jt.CODE_FIELD] for r in coded]
    assert all(len(c) == jt.CODE_LENGTH and set(c) <= set(jt.CODE_CHARS) for c in codes)
    assert len(set(codes)) == len(codes)  # 36^4 codes: 50 draws collide with probability ~0.07%
    assert sum(c in r["text"] for c, r in zip(codes, rows, strict=True)) == 0
    assert "code" not in rows[0]["target"]  # the rows given are left as they were
    assert jt.serialize(coded[0]["target"]).endswith(f'"code": "{codes[0]}"}}')


def test_answer_tokens_are_split_by_what_predicts_them(tokenizer):
    target = {**TARGET, jt.CODE_FIELD: "k3x9"}
    ids, kinds = jt.answer_token_kinds(tokenizer, target)
    assert len(ids) == len(kinds) and ids[-1] == tokenizer.eos_token_id and kinds[-1] == "structure"
    text = {kind: "".join(tokenizer.decode([i]) for i, k in zip(ids, kinds, strict=True) if k == kind)
            for kind in ("copied", "inferred", "code")}
    assert text["code"] == "k3x9" and text["inferred"] == "talk2026-08-24"
    assert text["copied"] == "Weekend Astronomy LectureUlvard13Nina Wojcik946-6276"  # the values, in order
    sft = jt.sft_example(tokenizer, "a notice", target)  # the tokens scored are the ones training trains on
    assert ids == [i for i, label in zip(sft["input_ids"], sft["labels"], strict=True) if label != -100]


def test_loss_by_kind_averages_each_kind(tiny, tokenizer):
    rows = jt.with_random_code(jt.load_split("test")[:3])
    out = jt.loss_by_kind(tiny, tokenizer, rows, batch_size=2)
    counts = [jt.answer_token_kinds(tokenizer, r["target"])[1] for r in rows]
    for kind in ("structure", "copied", "inferred", "code"):
        assert out[kind]["tokens"] == sum(k.count(kind) for k in counts)
        assert 0 < out[kind]["nats_per_token"] < 20
    assert out["code"]["nats_per_code"] == pytest.approx(
        out["code"]["nats_per_token"] * out["code"]["tokens"] / len(rows))
    assert jt.CODE_NATS == pytest.approx(14.334, abs=1e-3)
