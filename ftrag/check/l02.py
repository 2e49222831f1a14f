"""Checks for the lab of lesson 02 (JSON-format fine-tuning)."""

from __future__ import annotations

import json
import math

import torch

from ftrag import train as ft
from ftrag.check import call_solution, expect, expect_close, expect_equal, fail, passed
from ftrag.env import seed_everything
from ftrag.lm import load_model
from ftrag.tasks import json_output as jt
from ftrag.tasks.json_output import load_schema, task_prompt
from ftrag.tasks.json_output import sft_example as reference

_TARGET = {"event_type": "talk", "title": "Weekend Astronomy Lecture", "town": "Ulvard", "date": "2026-08-24",
           "seats": 13, "contact": {"name": "Nina Wojcik", "phone": "946-6276"}}


def check_json_validity(json_validity) -> None:
    """Exercise 1: parse rate and schema-valid rate of a list of outputs."""

    schema = load_schema()
    good = json.dumps(_TARGET)
    cases = [
        ([good, good], (1.0, 1.0), "two valid objects"),
        (["{", "Nina Wojcik"], (0.0, 0.0), "text that is not JSON"),
        (["13", good], (1.0, 0.5), '"13" (valid JSON, but a number, not an object)'),
        ([json.dumps({**_TARGET, "seats": "13"}), good], (1.0, 0.5), 'seats as the string "13"'),
        ([json.dumps({k: v for k, v in _TARGET.items() if k != "town"})], (1.0, 0.0), "an object without town"),
        ([json.dumps({**_TARGET, "seats": 900})], (1.0, 0.0), "seats above the schema's maximum of 500"),
        ([json.dumps({**_TARGET, "date": "2027-09-31"}), good], (1.0, 0.5),
         'the date "2027-09-31" (no such day: the schema\'s "format": "date" is checked only with a format checker)'),
        ([f"  {good}\n"], (1.0, 1.0), "a valid object with spaces and a newline around it"),
    ]
    for outputs, want, what in cases:
        got = call_solution(json_validity, outputs, schema, name="json_validity")
        expect(isinstance(got, tuple) and len(got) == 2,
               f"json_validity should return a tuple (parse_rate, schema_valid_rate), got {got!r}")
        expect(all(isinstance(x, float | int) for x in got), f"both rates should be numbers, got {got!r}")
        expect_equal((round(float(got[0]), 6), round(float(got[1]), 6)), want, f"json_validity on {what}",
                     hint="parse rate: share of outputs json.loads accepts (strip them first); schema-valid: share "
                          "that parse AND pass jsonschema.validate(value, schema, "
                          "format_checker=jsonschema.FormatChecker())")
    passed("json_validity tells parseable from schema-valid")


def check_lora_forward(lora_forward) -> None:
    """Exercise 2: the LoRA forward pass x W^T + (alpha / r) x A^T B^T."""
    gen = torch.Generator().manual_seed(0)
    x, weight = torch.randn(5, 8, generator=gen), torch.randn(6, 8, generator=gen)  # (batch, in), (out, in)
    a, zero_b = torch.randn(2, 8, generator=gen), torch.zeros(6, 2)  # A: (r, in), B: (out, r)
    got = call_solution(lora_forward, x, weight, a, zero_b, 4.0, name="lora_forward")
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (5, 6),
           f"lora_forward should return a tensor of shape (batch, out) = (5, 6), got "
           f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
    expect(torch.allclose(got, x @ weight.T, atol=1e-5),
           "with B = 0 the output must equal the frozen layer's x @ W.T exactly: LoRA starts as the base model")
    b = torch.randn(6, 2, generator=gen)
    want = x @ weight.T + (4.0 / 2) * (x @ a.T) @ b.T
    got = call_solution(lora_forward, x, weight, a, b, 4.0, name="lora_forward")
    if torch.allclose(got, x @ weight.T + (x @ a.T) @ b.T, atol=1e-4):
        fail("the low-rank update is not scaled: multiply (x @ A.T) @ B.T by alpha / r (r = A.shape[0])")
    expect(torch.allclose(got, want, atol=1e-4),
           "lora_forward(x, W, A, B, alpha) should be x @ W.T + (alpha / r) * (x @ A.T) @ B.T with r = A.shape[0]")
    passed("your LoRA layer starts as the base layer and adds the scaled low-rank update")


def check_sft_example(sft_example) -> None:
    """Exercise 3: an SFT example whose labels mask the prompt with -100."""

    _, tok = load_model("course-lm", device="cpu")
    notice = "The Morning Guitar Concert is in Ulvard on May 2, 2026. Ring Nina Wojcik on 946-6276. Room for 40."
    want = reference(tok, notice, _TARGET)
    got = call_solution(sft_example, tok, task_prompt(notice), " " + json.dumps(_TARGET), name="sft_example")
    expect(isinstance(got, dict) and {"input_ids", "labels"} <= set(got),
           f"sft_example should return a dict with 'input_ids' and 'labels', got {type(got).__name__}")
    ids, labels = list(got["input_ids"]), list(got["labels"])
    expect(len(ids) == len(labels), f"input_ids ({len(ids)}) and labels ({len(labels)}) must have the same length")
    expect(ids[-1] == tok.eos_token_id, "end input_ids with the EOS token, so the model learns to stop after the }")
    expect_equal(ids, want["input_ids"], "input_ids",
                 hint="tokenizer(prompt)['input_ids'] + tokenizer(answer, add_special_tokens=False)['input_ids'] + "
                      "[tokenizer.eos_token_id]")
    n_prompt = len(tok(task_prompt(notice))["input_ids"])
    expect(all(label == -100 for label in labels[:n_prompt]), "every prompt token's label must be -100 (no loss)")
    expect_equal(labels, want["labels"], "labels", hint="labels = [-100] * len(prompt_ids) + answer_ids (with EOS)")
    passed(f"{n_prompt} prompt tokens masked, {len(ids) - n_prompt} answer tokens trained on")


def check_lora_trainable_params(lora_trainable_params) -> None:
    """Exercise 4: LoRA's trainable parameters for rank r, checked against peft."""
    from peft import LoraConfig, get_peft_model  # deferred: importing peft loads bitsandbytes, which prints a notice


    cases = [(["q_proj", "v_proj"], 1), (["q_proj", "k_proj", "v_proj", "o_proj"], 4),
             (["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], 16)]
    for modules, r in cases:
        model, _ = load_model("course-lm", device="cpu")
        got = call_solution(lora_trainable_params, model, r, modules, name="lora_trainable_params")
        want = get_peft_model(model, LoraConfig(r=r, target_modules=modules)).get_nb_trainable_parameters()[0]
        expect_close(got, want, f"lora_trainable_params(model, r={r}, {modules})", tol=0,
                     hint="for every nn.Linear whose name ends with one of target_modules, add "
                          "r * (in_features + out_features): A is (r, in), B is (out, r)")
    passed("your count matches peft's for ranks 1, 4 and 16")


def _reference_run(token_ids, target_modules, config, sft, held_out, pad_id) -> dict:
    """Exercise 5's recipe, run here: what a correct ablation_run returns for the same arguments."""
    seed_everything(config.seed)
    peft_model = ft.lora_model(load_model("course-lm", device="cpu")[0], r=8, target_modules=target_modules,
                               token_ids=token_ids, reinit_tokens=bool(token_ids), seed=config.seed)
    result = ft.train(peft_model, sft, config, pad_id=pad_id)
    with torch.no_grad():
        loss = peft_model(**ft.collate(held_out, pad_id)).loss.item()
    return {"trainable": result.trainable, "train_losses": result.losses, "held_out_loss": loss}


def check_ablation_run(ablation_run) -> None:
    """Exercise 5: two-step runs of two ablations, compared with the same recipe run here."""
    model, tok = load_model("course-lm", device="cpu")
    sft = jt.sft_dataset(tok, jt.load_split("train"))
    held_out = jt.sft_dataset(tok, jt.load_split("valid")[:16])
    rows = ft.tokens_to_train(model, tok, sft)
    cases = [(rows, ["q_proj", "k_proj", "v_proj", "o_proj"], 1, "attention only, with the token rows"),
             ([], list(ft.LLAMA_LINEAR), 2, "all seven layers, no token rows")]
    for token_ids, modules, seed, what in cases:
        config = ft.TrainConfig(steps=2, batch_size=4, lr=4e-3, warmup_steps=1, seed=seed, progress=False)
        got = call_solution(ablation_run, token_ids, modules, config, name="ablation_run")
        expect(isinstance(got, dict) and {"trainable", "train_losses", "held_out_loss"} <= set(got),
               "ablation_run should return a dict with 'trainable', 'train_losses' and 'held_out_loss', got "
               f"{type(got).__name__} {sorted(got) if isinstance(got, dict) else ''}")
        want = _reference_run(token_ids, modules, config, sft, held_out, tok.pad_token_id)
        expect_equal(got["trainable"], want["trainable"], f"trainable parameters ({what}, r=8)",
                     hint="pass target_modules and token_ids on to ft.lora_model, with r=8, and report "
                          "result.trainable from ft.train")
        losses = list(got["train_losses"])
        expect(len(losses) == config.steps, f"train_losses should hold one loss per step ({config.steps}), got "
               f"{len(losses)}: train with the config you are given")
        if not math.isclose(losses[0], want["train_losses"][0], rel_tol=1e-3):
            fail(f"the first training loss ({what}) is {losses[0]:.4f}, the recipe gives "
                 f"{want['train_losses'][0]:.4f}: train on `sft` with the config you are given, and pass "
                 "reinit_tokens=bool(token_ids), seed=config.seed to ft.lora_model")
        if not math.isclose(losses[1], want["train_losses"][1], rel_tol=1e-3):
            fail(f"the first step's loss matches but the second does not ({losses[1]:.4f} vs "
                 f"{want['train_losses'][1]:.4f}): call seed_everything(config.seed) before ft.lora_model, so the "
                 "LoRA matrices start from the same random numbers in every run")
        expect_close(got["held_out_loss"], want["held_out_loss"], f"held-out answer loss ({what})", tol=1e-3,
                     hint="one batch ft.collate(held_out, tokenizer.pad_token_id); peft_model(**batch).loss under "
                          "torch.no_grad(), after training")
    passed("your runs match the recipe: same parameters trained, same losses, same held-out loss")


def check_grammar_effect(grammar_effect, constraint) -> None:
    """Exercise 6: free and constrained outputs of the same notices, scored, on the untrained course model."""

    model, tok = load_model("course-lm", device="cpu")
    rows = jt.load_split("test")[100:102]
    got = call_solution(grammar_effect, model, tok, rows, constraint, name="grammar_effect")
    expect(isinstance(got, dict) and {"free", "constrained", "changed"} <= set(got),
           "grammar_effect should return a dict with 'free', 'constrained' and 'changed', got "
           f"{type(got).__name__}")
    notices, targets = [r["text"] for r in rows], [r["target"] for r in rows]
    free, forced = jt.json_outputs(model, tok, notices), jt.constrained_outputs(model, tok, notices, constraint)
    want = {"free": jt.score(free, targets), "constrained": jt.score(forced, targets)}
    if got["free"] == want["constrained"] and got["constrained"] == want["free"]:
        fail("'free' and 'constrained' are swapped: 'free' is jt.json_outputs, 'constrained' jt.constrained_outputs")
    for name in ("free", "constrained"):
        expect(isinstance(got[name], dict) and "parse" in got[name],
               f"got[{name!r}] should be the dict jt.score returns, got {type(got[name]).__name__}")
        expect_equal(got[name]["parse"], want[name]["parse"], f"the {name} parse rate of the untrained course model "
                     "on two notices", hint="decode the notices of `rows` and score them against their targets")
        expect_close(got[name]["field_em"], want[name]["field_em"], f"the {name} field exact match", tol=1e-9,
                     hint="jt.score(outputs, [r['target'] for r in rows])")
    expect_equal(got["changed"], sum(a != b for a, b in zip(free, forced, strict=True)),
                 "the number of notices whose two outputs differ", hint="compare the two lists of outputs pairwise")
    passed(f"the untrained model parses {want['free']['parse']:.0%} free and {want['constrained']['parse']:.0%} "
           "with the grammar: your comparison measures the same")
