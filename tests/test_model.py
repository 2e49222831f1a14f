"""The course model: plain-transformers loading, the card's numbers re-measured on a sample, and the helpers."""

import json
import math

import pytest
import torch

from ftrag import modelcard
from ftrag.model import (
    ModelUnavailableError,
    exact_match,
    format_prompt,
    generate,
    load_model,
    normalize_answer,
    perplexity,
    token_losses,
)
from ftrag.paths import data_path

MODEL_DIR = data_path("models", "course-lm")


@pytest.fixture(scope="module")
def course_lm():
    return load_model("course-lm", device="cpu")


@pytest.fixture(scope="module")
def card():
    return json.loads((MODEL_DIR / "eval.json").read_text())


def test_loads_with_plain_transformers_and_fits_the_spec():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR)
    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert 4e6 <= sum(p.numel() for p in model.parameters()) <= 10e6
    assert model.config.max_position_embeddings >= 512
    assert sum(p.stat().st_size for p in MODEL_DIR.iterdir()) <= 40 * 2**20
    assert (MODEL_DIR / "model.safetensors").is_file() and (MODEL_DIR / "README.md").is_file()
    text = '{"a": [1]}'  # never seen in pretraining, still representable byte by byte
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_card_meets_the_course_targets(card):
    full = card["full"]
    assert full["rc_em_d0"] >= 0.90
    assert full["closed_book_world_b_em"] <= 0.05
    assert full["json_zero_shot_object_rate"] <= 0.05
    # World B documents are read, if not yet well (the card says what limits it): far above closed-book.
    assert full["open_book_world_b_em_lexical"] >= full["closed_book_world_b_em"] + 0.3


def test_card_numbers_are_reproduced_on_the_sample(course_lm, card):
    model, tok = course_lm
    fresh, stored = modelcard.measure(model, tok, sample_only=True), card["sample"]
    assert fresh.keys() == stored.keys()
    for key, value in stored.items():
        if key == "heldout_ppl":
            assert math.isclose(fresh[key], value, rel_tol=0.02), (key, fresh[key], value)
        else:
            assert abs(fresh[key] - value) <= 0.02, (key, fresh[key], value)


def test_format_prompt():
    assert format_prompt("Who?", ["A b.", "C d."]) == "Passage: A b.\nPassage: C d.\nQuestion: Who?\nAnswer:"
    assert format_prompt("Who?") == "Question: Who?\nAnswer:"
    with pytest.raises(ValueError):
        format_prompt("  ")


def test_exact_match_and_normalisation():
    assert normalize_answer("  The Baker. ") == "baker"
    assert exact_match(["a baker", "Lindholm", "x"], ["baker", "lindholm", ["y", "X"]]) == 1.0
    assert exact_match(["no"], ["yes"]) == 0.0
    with pytest.raises(ValueError, match="pair up"):
        exact_match(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        exact_match("a", "a")


def test_generation_greedy_and_seeded_sampling(course_lm):
    model, tok = course_lm
    prompt = ["Passage: Anna Berg was born in Lindholm.\nQuestion: Where was Anna Berg born?\nAnswer:"]
    assert generate(model, tok, prompt) == generate(model, tok, prompt)
    a = generate(model, tok, prompt * 2, do_sample=True, temperature=1.5, seed=3, max_new_tokens=8)
    assert a == generate(model, tok, prompt * 2, do_sample=True, temperature=1.5, seed=3, max_new_tokens=8)
    with pytest.raises(ValueError):
        generate(model, tok, prompt[0])
    with pytest.raises(ValueError):
        generate(model, tok, prompt, do_sample=True, temperature=0)


def test_perplexity_matches_the_models_own_loss(course_lm):
    model, tok = course_lm
    text = "Anna Berg works as a baker in Lindholm."
    ids = torch.tensor([tok(text)["input_ids"] + [tok.eos_token_id]])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss.item()
    assert math.isclose(perplexity(model, tok, [text]), math.exp(loss), rel_tol=1e-4)
    tokens, losses = token_losses(model, tok, text)
    assert len(tokens) == len(losses) == ids.shape[1] - 2  # BOS predicts nothing; EOS is not added here
    with pytest.raises(ValueError):
        perplexity(model, tok, [])


def test_bad_model_names_say_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="unknown model 'gpt-9'.*course-lm"):
        load_model("gpt-9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError, match="course-lm"):
        load_model("HuggingFaceTB/SmolLM2-135M")
    monkeypatch.setenv("FTRAG_MODEL", "gpt-9")
    with pytest.raises(ValueError, match="unknown model"):
        load_model()


def test_a_name_is_the_same_tokens_after_a_space_a_quote_or_a_bracket(course_lm):
    _, tok = course_lm

    def pieces(text: str) -> list[str]:
        return [tok.decode([i]) for i in tok(text, add_special_tokens=False)["input_ids"]]

    name = pieces("Nina Wojcik")
    assert pieces(" Nina Wojcik")[1:] == name  # the space before a capital is a token of its own
    assert pieces('"Nina Wojcik"')[1:-1] == name and pieces("(Nina Wojcik)")[1:-1] == name
    assert pieces('"2026"')[1:-1] == pieces(" 2026")[1:]
    assert pieces(" born") == [" born"]  # lower-case words keep their space
    assert tok.decode(tok('{"town": "Ulvard"} in Ulvard')["input_ids"], skip_special_tokens=True) == \
        '{"town": "Ulvard"} in Ulvard'
