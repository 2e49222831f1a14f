"""ftrag.pretrain end to end, and ftrag.lm on its output: a tiny model trained in seconds on a tiny corpus
in World A's format (so these tests need neither data/world_a nor the shipped course model)."""

import json
import lzma
import random

import numpy as np
import pytest
import torch

from ftrag import lm as M
from ftrag.files import read_examples
from ftrag.pretrain.config import PretrainConfig
from ftrag.pretrain.data import collate, epoch_batches
from ftrag.pretrain.loop import train
from ftrag.train import lr_at

TOWNS = "Lindholm Eastmere Kastel Norrvik Ashford Tellby Marrow Quillon".split()
NAMES = "Anna Berg,Tom Reed,Lina Holm,Ivan Novak,Clara Falk,Omar Moss".split(",")


def _corpus(rng: random.Random, n: int, distractors: int) -> list[str]:
    examples = []
    for _ in range(n):
        people = rng.sample(NAMES, distractors + 1)
        towns = [rng.choice(TOWNS) for _ in people]
        passages = [f"Passage: {p} was born in {t}." for p, t in zip(people, towns, strict=True)]
        qa = [f"Question: Where was {people[0]} born?", f"Answer: {towns[0]}"]
        examples.append("\n".join(rng.sample(passages, len(passages)) + qa))
    return examples


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """phase1/phase2/rc_test/heldout files in the format ftrag.world writes."""
    root = tmp_path_factory.mktemp("world")
    rng = random.Random(0)
    for name, n, d in (("phase1.txt.xz", 300, 0), ("phase2.txt.xz", 300, 2)):
        with lzma.open(root / name, "wt") as f:
            f.write("\n\n".join(_corpus(rng, n, d)) + "\n")
    (root / "heldout.txt").write_text("\n\n".join(_corpus(rng, 20, 1)) + "\n")
    with open(root / "rc_test.jsonl", "w") as f:
        for i in range(10):
            people, towns = rng.sample(NAMES, 3), rng.sample(TOWNS, 3)
            passages = [f"{p} was born in {t}." for p, t in zip(people, towns, strict=True)]
            f.write(json.dumps({"id": f"rc-{i}", "passages": passages, "gold": 0, "kind": "person",
                                "question": f"Where was {people[0]} born?", "answer": towns[0]}) + "\n")
    return root


def _cfg(world, work, **kw) -> PretrainConfig:
    base = dict(phase1_data=str(world / "phase1.txt.xz"), phase2_data=str(world / "phase2.txt.xz"),
                rc_test=str(world / "rc_test.jsonl"), heldout=str(world / "heldout.txt"), work_dir=str(work),
                out_dir=str(work / "model"), vocab_size=300, hidden_size=32, num_layers=2, num_heads=2,
                intermediate_size=64, max_len=128, batch_tokens=1024, phase1_budget=6000, phase2_budget=9000,
                warmup_steps=5, probe_rows=5, log_every=1, precision="fp32", threads=1, lr=3e-3)
    return PretrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(world, tmp_path_factory):
    """A tiny run to the end: (work dir, summary)."""
    work = tmp_path_factory.mktemp("run")
    return work, train(_cfg(world, work))


@pytest.fixture(scope="module")
def lm(trained):
    return M.load_model(str(trained[0] / "model"))


@pytest.mark.slow
def test_pretrain_saves_a_plain_hf_model_whose_loss_fell(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work, summary = trained
    model = AutoModelForCausalLM.from_pretrained(work / "model")
    tok = AutoTokenizer.from_pretrained(work / "model")
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.tie_word_embeddings
    assert tok("{x}")["input_ids"][0] == tok.eos_token_id  # BOS is <|endoftext|>; a brace still encodes
    assert tok.decode(tok('Answer: {"a": [1]}')["input_ids"], skip_special_tokens=True) == 'Answer: {"a": [1]}'
    losses = [r["loss"] for r in map(json.loads, (work / "model" / "training_log.jsonl").open()) if "loss" in r]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.5, losses
    assert summary["tokens"] >= 15000 and summary["precision"] == "fp32" and summary["heldout_ppl"] > 1
    assert set(summary["final_probe"]) == {"em_gold", "em_d2"}


@pytest.mark.slow
def test_pretrain_resumes_to_the_same_weights(world, trained, tmp_path):
    from safetensors.torch import load_file

    assert train(_cfg(world, tmp_path, stop_after_steps=7)) == {}  # stopped early, checkpointed
    assert not (tmp_path / "model").exists()
    train(_cfg(world, tmp_path))  # the same command again continues the run
    a, b = load_file(trained[0] / "model" / "model.safetensors"), load_file(tmp_path / "model" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(SystemExit, match="other settings.*hidden_size"):
        train(_cfg(world, tmp_path, hidden_size=64))


def test_epoch_batches_respect_the_budget_and_are_reproducible():
    lengths = np.random.default_rng(0).integers(5, 200, size=3000)
    plan = epoch_batches(lengths, 1024, seed=1, phase=0, epoch=0)
    assert sorted(np.concatenate(plan).tolist()) == list(range(3000))  # every example once
    assert all(len(b) * lengths[b].max() <= 1024 for b in plan)
    assert lengths.sum() / sum(len(b) * lengths[b].max() for b in plan) > 0.9  # bucketing: little padding
    again = epoch_batches(lengths, 1024, seed=1, phase=0, epoch=0)
    assert all(np.array_equal(x, y) for x, y in zip(plan, again, strict=True))


def test_lr_schedule_warms_up_holds_and_decays():
    cfg = PretrainConfig(lr=1.0, warmup_steps=10, decay_frac=0.2, min_lr_frac=0.1)
    assert lr_at(0, cfg, 0.0) == pytest.approx(0.1)
    assert lr_at(100, cfg, 0.5) == 1.0
    assert lr_at(100, cfg, 0.9) == pytest.approx(0.55)
    assert lr_at(100, cfg, 1.0) == pytest.approx(0.1)


@pytest.mark.slow
def test_generate_is_batch_invariant_and_stops_at_newline(lm):
    model, tok = lm
    prompts = [M.format_prompt("Where was Anna Berg born?", ["Anna Berg was born in Kastel."]),
               M.format_prompt("Where was Tom Reed born?",
                               ["Omar Moss was born in Marrow.", "Tom Reed was born in Tellby."]),
               M.format_prompt("Where was Lina Holm born?")]
    greedy = M.generate(model, tok, prompts)
    assert greedy == [M.generate(model, tok, [p])[0] for p in prompts]  # left padding changes nothing
    assert all("\n" not in g for g in greedy)
    assert M.answer_questions(model, tok, ["Where was Anna Berg born?"], [["Anna Berg was born in Kastel."]]) \
        == greedy[:1]


@pytest.mark.slow
def test_perplexity_matches_the_training_loss(lm, world):
    model, tok = lm
    texts = read_examples(world / "heldout.txt", limit=8)
    rows = [tok(t)["input_ids"] + [tok.eos_token_id] for t in texts]  # BOS + text + EOS, as in training
    flat = np.concatenate([np.asarray(r, dtype=np.uint16) for r in rows])
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    ids, labels = collate(flat, offsets, np.arange(len(rows)), tok.pad_token_id)
    with torch.no_grad():
        loss = model(input_ids=ids, labels=labels).loss.item()
    assert M.perplexity(model, tok, texts) == pytest.approx(np.exp(loss), rel=1e-4)
    assert M.perplexity(model, tok, texts, batch_size=3) == pytest.approx(np.exp(loss), rel=1e-4)
    tokens, losses = M.token_losses(model, tok, texts[0])
    assert len(tokens) == len(losses) == len(rows[0]) - 2 and "".join(tokens) == texts[0]


@pytest.mark.slow
def test_load_model_from_env_and_in_4bit(lm, trained, monkeypatch):
    monkeypatch.setenv("FTRAG_MODEL", str(trained[0] / "model"))
    model, tok = M.load_model()
    assert tok.padding_side == "left" and not model.training
    pytest.importorskip("bitsandbytes")
    q, qtok = M.load_model(load_in_4bit=True)
    assert "4bit" in type(q.model.layers[0].self_attn.q_proj).__name__
    assert q.get_memory_footprint() < model.get_memory_footprint()
    texts = ["Passage: Anna Berg was born in Kastel."]
    assert M.perplexity(q, qtok, texts) == pytest.approx(M.perplexity(model, tok, texts), rel=0.2)


def test_load_model_rejects_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        M.load_model(str(tmp_path))
