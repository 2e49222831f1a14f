"""The course model: plain-transformers loading, the card's numbers re-measured on a sample, and the helpers."""

import json
import math
import re
from types import SimpleNamespace

import pytest
import torch

from ftrag.course import modelcard
from ftrag.lm import (
    ModelUnavailableError,
    continuation_nll,
    exact_match,
    format_prompt,
    generate,
    load_model,
    normalize_answer,
    pad_id_of,
    pad_right,
    perplexity,
    resolve_model,
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


@pytest.mark.slow  # generates answers for the card's sample: about 25 s
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


def test_generate_refuses_a_prompt_that_does_not_fit_the_context(course_lm):
    model, tok = course_lm
    passage = "Anna Berg was born in Lindholm."
    too_long = format_prompt("Where was Anna Berg born?", [passage] * 80)
    with pytest.raises(ValueError, match=r"prompt 1 has \d+ tokens.*context of 512 tokens: shorten the prompt"):
        generate(model, tok, ["Question: Who?\nAnswer:", too_long])
    prompt = format_prompt("Where was Anna Berg born?", [passage] * 35)
    n = len(tok(prompt)["input_ids"])
    assert 400 < n < 500
    assert generate(model, tok, [prompt], max_new_tokens=512 - n) == ["Lindholm"]  # fills the context: allowed
    with pytest.raises(ValueError, match=f"max_new_tokens={513 - n} .*at most {512 - n} with this prompt"):
        generate(model, tok, [prompt], max_new_tokens=513 - n)
    gpt2_like = SimpleNamespace(config=SimpleNamespace(n_positions=8))  # GPT-2 configs say n_positions
    with pytest.raises(ValueError, match="context of 8 tokens"):
        generate(gpt2_like, tok, ["Question: Where was Anna Berg born?\nAnswer:"])


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


def test_continuation_nll_is_the_summed_loss_whatever_the_padding_or_batching(course_lm):
    model, tok = course_lm
    assert pad_id_of(SimpleNamespace(pad_token_id=3, eos_token_id=5)) == 3
    assert pad_id_of(SimpleNamespace(pad_token_id=None, eos_token_id=5)) == 5
    assert pad_id_of(SimpleNamespace(pad_token_id=None, eos_token_id=None)) == 0
    ids, mask = pad_right([[5, 6, 7], [8]], 9)
    assert ids.tolist() == [[5, 6, 7], [8, 9, 9]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    prefix = tok("Question: Where was Anna Berg born?\nAnswer:")["input_ids"]
    rows = [prefix + tok(" " + a, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            for a in ("Lindholm", "Rothwick in the north", "a small town")]
    want = []
    for row in rows:  # one unpadded forward pass per row, by hand
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([row])).logits[0].float(), -1)
        want.append(-sum(logp[j - 1, row[j]].item() for j in range(len(prefix), len(row))))
    starts = [len(prefix)] * len(rows)
    got = continuation_nll(model, rows, starts, pad_id_of(tok), batch_size=2)
    assert got == pytest.approx(want, rel=1e-4)
    assert continuation_nll(model, rows, starts, 123, batch_size=3) == pytest.approx(got, rel=1e-6)  # any pad id
    assert continuation_nll(model, rows, starts, 0, batch_size=3, shared_prefix=True) == pytest.approx(got, rel=1e-5)
    with pytest.raises(ValueError, match="same prefix"):
        continuation_nll(model, rows, [1, 2, 3], 0, shared_prefix=True)
    with pytest.raises(ValueError, match="from 1"):
        continuation_nll(model, rows, [0, 1, 1], 0)


def test_bad_model_names_say_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="unknown model 'gpt 9'.*course-lm"):
        load_model("gpt 9")  # no hub id has a space
    with pytest.raises(ValueError, match="unknown model 'course_lm'; did you mean 'course-lm'"):
        load_model("course_lm")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError, match="course-lm"):
        load_model("HuggingFaceTB/SmolLM2-135M")
    monkeypatch.setenv("FTRAG_MODEL", "gpt 9")
    with pytest.raises(ValueError, match="unknown model"):
        load_model()


def test_a_hub_id_without_an_organisation_is_a_hub_id(monkeypatch):
    assert resolve_model("gpt2") == ("gpt2", True) and resolve_model("distilgpt2") == ("distilgpt2", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = r"could not load 'gpt-9' from the Hugging Face Hub \(HF_HUB_OFFLINE is set\).*load_model\('course-lm'\)"
    with pytest.raises(ModelUnavailableError, match=offline):
        load_model("gpt-9")  # not cached: the offline message, no stack trace from the hub client
    monkeypatch.setenv("FTRAG_MODEL", "gpt-9")
    with pytest.raises(ModelUnavailableError, match=offline):
        load_model()


def test_a_missing_local_folder_is_not_sent_to_the_hub(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "runs").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no model folder at runs/my-model .*runs/ exists here.*'course-lm'"):
        load_model("runs/my-model")  # "org/name"-shaped, but runs/ is a folder here
    for name in ("./my-model", "../my-model", "~/no-such-model-here", str(tmp_path / "gone"), "a/b/c"):
        with pytest.raises(ModelUnavailableError, match=f"no model folder at {re.escape(name)} "):
            load_model(name)
    assert resolve_model("HuggingFaceTB/SmolLM2-135M") == ("HuggingFaceTB/SmolLM2-135M", True)  # no HuggingFaceTB/ here
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="'notes.txt' is a file"):
        load_model("notes.txt")


def test_only_files_missing_from_the_cache_count_as_not_cached(monkeypatch):
    import transformers
    from huggingface_hub.errors import LocalEntryNotFoundError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def tokenizer_raises(make_exc):
        def from_pretrained(*args, **kwargs):
            raise make_exc()
        monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", from_pretrained)

    def not_in_cache():  # what transformers raises when nothing of the repo is cached
        exc = OSError("We couldn't connect to 'https://huggingface.co' to load the files")
        exc.__cause__ = LocalEntryNotFoundError("Cannot find the requested files in the disk cache")
        return exc

    for make_exc in (not_in_cache, lambda: OSError("org/name does not appear to have a file named config.json.")):
        tokenizer_raises(make_exc)
        with pytest.raises(ModelUnavailableError, match="not in the local cache"):
            load_model("org/name")
    tokenizer_raises(lambda: ValueError("Unrecognized model type 'llama9' in its config.json"))
    with pytest.raises(ValueError, match="llama9") as info:  # a cached copy that does not load: shown as it is
        load_model("org/name")
    if hasattr(info.value, "add_note"):  # Python 3.11+: the error carries a note saying how to clear the copy
        assert "hf cache rm model/org/name" in " ".join(info.value.__notes__)
    tokenizer_raises(lambda: PermissionError(13, "Permission denied", "/cache/models--org--name"))
    with pytest.raises(PermissionError):
        load_model("org/name")


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


def test_4bit_weights_dequantize_the_same_on_every_cpu():
    """bitsandbytes 0.50's AVX-512 CPU kernel dequantizes a matrix whose rows are not a multiple of the 64-weight block
    in other blocks than it quantized (the course model's 688-wide down-projection): load_model's 4-bit path uses
    bitsandbytes' PyTorch dequantization instead, which must equal NF4 by hand on every CPU."""
    import bitsandbytes as bnb
    from bitsandbytes.backends.utils import _get_4bit_code

    from ftrag.lm.load import _portable_cpu_dequantize

    _portable_cpu_dequantize()
    w = torch.randn(96, 688, generator=torch.Generator().manual_seed(0))
    packed, state = bnb.functional.quantize_4bit(w, quant_type="nf4", blocksize=64)
    back = bnb.functional.dequantize_4bit(packed, state)
    nibbles = torch.stack([packed.flatten() >> 4, packed.flatten() & 0xF], dim=1).flatten().long()[:w.numel()]
    scales = state.absmax.repeat_interleave(64)[:w.numel()]  # one scale per 64 consecutive weights of the flat matrix
    by_hand = (_get_4bit_code("nf4", w.device)[nibbles] * scales).reshape(w.shape)
    assert torch.equal(back, by_hand)
    assert (back - w).norm() / w.norm() < 0.12  # NF4's own rounding error is about 9%


def test_committed_model_cards_match_their_stored_numbers(capsys):
    """``python -m ftrag.course.modelcard --check``: each course model's README.md is the card its eval.json,
    training_summary.json and config.json make (rendered in memory; nothing measured, nothing written)."""
    assert modelcard.stale_cards() == [], "run `python -m ftrag.course.modelcard --card-only --model NAME`"
    assert modelcard.main(["--check"]) == 0
    assert "match" in capsys.readouterr().out
