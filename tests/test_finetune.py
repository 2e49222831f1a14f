"""The fine-tuning loop, LoRA and QLoRA of lesson 02, on a tiny random Llama with the course tokenizer."""

import pytest
import torch

from ftrag import lm as M
from ftrag import train as ft
from ftrag.course import adapters
from ftrag.paths import data_path
from ftrag.tasks import json_output as jt

LAYERS, HIDDEN, FF = 2, 32, 64


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(data_path("models", "course-lm"))


def tiny_model(tokenizer, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=2,
        num_key_value_heads=2, intermediate_size=FF, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=0, pad_token_id=0)).eval()


@pytest.fixture(scope="module")
def examples(tokenizer):
    return jt.sft_dataset(tokenizer, jt.load_split("train")[:4])


def test_unseen_tokens_are_the_five_single_bytes(tokenizer):
    ids = ft.unseen_token_ids(tokenizer)
    assert sorted(tokenizer.decode([i]) for i in ids) == sorted('{}[]"')


@pytest.mark.parametrize("r", [1, 4])
def test_lora_trainable_parameter_count(tokenizer, r):
    model = tiny_model(tokenizer)
    _, total = ft.count_parameters(model)
    per_layer = 4 * r * (HIDDEN + HIDDEN) + 2 * r * (HIDDEN + FF) + r * (FF + HIDDEN)
    assert ft.lora_parameter_count(model, r) == LAYERS * per_layer
    peft_model = ft.lora_model(model, r, token_ids=ft.unseen_token_ids(tokenizer))
    trainable, total_after = ft.count_parameters(peft_model)
    assert trainable == LAYERS * per_layer + 5 * HIDDEN  # adapters + the 5 token rows (tied: counted once)
    assert total_after == total + trainable
    assert (trainable, total_after) == peft_model.get_nb_trainable_parameters()


def test_lora_starts_as_the_base_model(tokenizer, examples):
    base = tiny_model(tokenizer)
    ids = torch.tensor([examples[0]["input_ids"]])
    with torch.no_grad():
        before = base(input_ids=ids).logits
        after = ft.lora_model(base, 4, token_ids=[91, 93])(input_ids=ids).logits
    assert torch.allclose(before, after, atol=1e-6)  # B starts at zero: the adapter changes nothing yet


def test_lora_model_rejects_bad_arguments(tokenizer):
    with pytest.raises(ValueError, match="positive integer"):
        ft.lora_model(tiny_model(tokenizer), 0)
    with pytest.raises(ValueError, match="not in this model"):
        ft.lora_model(tiny_model(tokenizer), 4, target_modules=["query"])


def test_train_config_validates():
    with pytest.raises(ValueError, match="steps"):
        ft.TrainConfig(steps=0)
    with pytest.raises(ValueError, match="warmup"):
        ft.TrainConfig(steps=5, warmup_steps=5)
    config = ft.TrainConfig(steps=10, warmup_steps=2, lr=1.0e-3)
    lrs = [ft.lr_at(s, config) for s in range(10)]
    assert lrs[1] == pytest.approx(1e-3) and lrs[0] < lrs[1] and lrs[-1] < lrs[2]


def test_collate_pads_right_and_masks_padding():
    batch = ft.collate([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5], "labels": [5]}], 0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [5, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_lora_training_lowers_the_loss_and_touches_only_the_adapter(tokenizer, examples):
    model = tiny_model(tokenizer)
    frozen = model.model.layers[0].self_attn.q_proj.weight.detach().clone()
    peft_model = ft.lora_model(model, 4, token_ids=ft.unseen_token_ids(tokenizer))
    result = ft.train(peft_model, examples, ft.TrainConfig(steps=25, batch_size=4, lr=1e-2, warmup_steps=2,
                                                           progress=False))
    assert len(result.losses) == 25 and result.seconds > 0 and result.tokens > 0
    assert sum(result.losses[-5:]) / 5 < result.losses[0] - 0.5, result.losses
    assert torch.equal(model.model.layers[0].self_attn.q_proj.base_layer.weight, frozen)
    assert 0 < result.trainable_share < 0.1 and "trainable parameters" in result.summary()


def test_train_refuses_a_frozen_model(tokenizer, examples):
    model = tiny_model(tokenizer).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        ft.train(model, examples, ft.TrainConfig(steps=2, warmup_steps=0, progress=False))


def test_reentrant_checkpointing_needs_inputs_that_require_grad(tokenizer, examples):
    peft_model = ft.lora_model(tiny_model(tokenizer), 4)  # no trainable token rows: the embedding is all frozen
    ft.checkpointing(peft_model, True, reentrant=True)
    peft_model.disable_input_require_grads()
    reached, total = ft.check_gradients_reach(peft_model, examples[0])
    assert reached == 0 and total > 0  # the pitfall: every adapter sits in a checkpointed layer, none learns
    peft_model.enable_input_require_grads()
    assert ft.check_gradients_reach(peft_model, examples[0]) == (total, total)


def test_save_merge_and_reload_give_the_same_model(tokenizer, examples, tmp_path):
    from peft import PeftModel

    peft_model = ft.lora_model(tiny_model(tokenizer), 4, token_ids=ft.unseen_token_ids(tokenizer))
    ft.train(peft_model, examples, ft.TrainConfig(steps=3, batch_size=2, warmup_steps=1, lr=1e-2, progress=False))
    ids = torch.tensor([examples[0]["input_ids"]])
    with torch.no_grad():
        want = peft_model(input_ids=ids).logits
    size = ft.save_adapter(peft_model, tmp_path / "adapter")
    assert 0 < size < 200_000 and (tmp_path / "adapter" / "adapter_config.json").is_file()
    reloaded = PeftModel.from_pretrained(tiny_model(tokenizer), tmp_path / "adapter").eval()
    merged = ft.merge_and_save(peft_model, tmp_path / "merged")
    with torch.no_grad():
        assert torch.allclose(reloaded(input_ids=ids).logits, want, atol=1e-5)
        assert torch.allclose(merged(input_ids=ids).logits, want, atol=1e-4)
    assert type(merged).__name__ == "LlamaForCausalLM" and (tmp_path / "merged" / "config.json").is_file()


def test_qlora_on_cpu_trains_4bit_base(tokenizer, examples, tmp_path):
    pytest.importorskip("bitsandbytes")
    base = tiny_model(tokenizer)
    base.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    full_bytes = ft.weight_bytes(base, linear_only=True)
    model, tok = ft.qlora_model(str(tmp_path / "tiny"), 4, device="cpu", token_ids=ft.unseen_token_ids(tokenizer))
    assert any(p.__class__.__name__ == "Params4bit" for p in model.parameters())
    assert ft.weight_bytes(model, linear_only=True) < full_bytes / 4  # 4 bits + per-block scales vs 32 bits
    trainable, total = ft.count_parameters(model)
    assert total == ft.count_parameters(base)[0] + trainable  # 4-bit weights counted as weights, not bytes
    result = ft.train(model, examples, ft.TrainConfig(steps=20, batch_size=4, lr=1e-2, warmup_steps=2,
                                                      gradient_checkpointing=True, progress=False))
    assert sum(result.losses[-5:]) / 5 < result.losses[0] - 0.5, result.losses
    with pytest.raises(ValueError, match="4-bit"):
        ft.merge_and_save(model)


def test_untrained_rows_are_found_by_their_shared_direction(tokenizer, examples):
    model = tiny_model(tokenizer)
    assert ft.untrained_token_ids(model, tokenizer) == []  # random rows: no cluster, nothing to restart
    rows = model.get_input_embeddings().weight.data
    dead = [2, 91, 93, *range(100, 120)]
    rows[dead] = torch.randn(HIDDEN) + 0.01 * torch.randn(len(dead), HIDDEN)  # what pretraining does to unseen tokens
    assert set(ft.untrained_token_ids(model, tokenizer)) == set(dead)
    used = {t for e in examples for t in e["labels"] if t != -100}
    assert ft.tokens_to_train(model, tokenizer, examples) == sorted(used & set(dead))
    peft_model = ft.lora_model(model, 2, token_ids=[2, 91, 93], reinit_tokens=True)
    new_rows = peft_model.get_input_embeddings().token_adapter.trainable_tokens_delta["default"]
    assert torch.nn.functional.cosine_similarity(new_rows[0], new_rows[1], dim=0) < 0.9  # distinct again


def test_lm_examples_pack_every_token_once(tokenizer):
    texts = ["MV-2811-KV :: QRV :: prq2", "STAT: wipz / OWN: Lulzael Naelzael", "orlq trosk mevq"]
    blocks = ft.lm_examples(tokenizer, texts, block_size=8)
    stream = [t for b in blocks for t in b["input_ids"]]
    eos = tokenizer.eos_token_id
    expected = [eos]
    for text in texts:
        expected += tokenizer(text, add_special_tokens=False)["input_ids"] + [eos]
    assert stream == expected
    assert all(b["labels"] == b["input_ids"] and len(b["input_ids"]) <= 8 for b in blocks)
    assert all(len(b["input_ids"]) == 8 for b in blocks[:-1])  # packed: no block but the last is short
    unpacked = ft.lm_examples(tokenizer, texts, block_size=512, pack=False)
    assert [b["input_ids"] for b in unpacked] == [tokenizer(t)["input_ids"] + [eos] for t in texts]


@pytest.mark.parametrize("bad, message", [("a text", "list of strings"), ([], "non-empty")])
def test_lm_examples_reject_bad_texts(tokenizer, bad, message):
    with pytest.raises(ValueError, match=message):
        ft.lm_examples(tokenizer, bad)


def test_context_perplexity_scores_only_the_text(tokenizer):
    from ftrag.lm import context_perplexity, perplexity

    model = tiny_model(tokenizer)
    texts = ["STAT: wipz / OWN: Lulzael Naelzael", "orlq trosk mevq"]
    # Without context it is the plain perplexity of each text (BOS + text + EOS).
    assert context_perplexity(model, tokenizer, texts) == pytest.approx(perplexity(model, tokenizer, texts), rel=1e-5)
    with_ctx = context_perplexity(model, tokenizer, texts, ["orlq trosk mevq", "STAT: wipz"])
    assert with_ctx != pytest.approx(perplexity(model, tokenizer, texts), rel=1e-5)
    # A context longer than the window loses its oldest tokens; the text is still scored whole.
    long = context_perplexity(model, tokenizer, texts[:1], ["word " * 2000], max_length=64)
    shorter = context_perplexity(model, tokenizer, texts[:1], ["word " * 1000], max_length=64)
    assert long == pytest.approx(shorter, rel=1e-6)  # both keep the same last tokens
    assert long != pytest.approx(perplexity(model, tokenizer, texts[:1]), rel=1e-5)
    with pytest.raises(ValueError, match="one context per text"):
        context_perplexity(model, tokenizer, texts, ["only one"])


def test_train_calls_eval_fn_on_schedule(tokenizer, examples):
    model = tiny_model(tokenizer).requires_grad_(True)
    modes = []

    def probe() -> float:
        modes.append(model.training)
        return float(len(modes))

    result = ft.train(model, examples, ft.TrainConfig(steps=5, batch_size=2, warmup_steps=1, progress=False),
                      eval_fn=probe, eval_every=2)
    assert [step for step, _ in result.evals] == [0, 2, 4, 5]
    assert modes == [False] * 4 and model.training is False
    with pytest.raises(ValueError, match="eval_every"):
        ft.train(model, examples, ft.TrainConfig(steps=2, warmup_steps=0, progress=False), eval_fn=probe)


def test_load_adapter_round_trip_and_clear_error(tokenizer, tmp_path):
    import json

    peft_model = ft.lora_model(tiny_model(tokenizer), 2)
    ft.save_adapter(peft_model, tmp_path / "adapter")
    (tmp_path / "adapter" / "training.json").write_text(json.dumps({"command": "python -m ftrag.course.adapters"}))
    loaded, record = ft.load_adapter(tiny_model(tokenizer), tmp_path / "adapter")
    assert record == {"command": "python -m ftrag.course.adapters"} and not loaded.training
    assert sum(p.numel() for n, p in loaded.named_parameters() if "lora_" in n) > 0
    with pytest.raises(FileNotFoundError, match="no adapter|not in the course data"):
        ft.load_adapter(tiny_model(tokenizer), "no-such-adapter")
    # A loaded adapter has nothing marked trainable; adapter_parameters still counts it, like the trained one.
    assert ft.count_parameters(loaded)[0] == 0
    assert ft.adapter_parameters(loaded) == ft.adapter_parameters(peft_model) == ft.count_parameters(peft_model)[0]
    with pytest.raises(ValueError, match="no LoRA adapter"):
        ft.adapter_parameters(tiny_model(tokenizer))


def test_split_memos_and_closing_em(tokenizer):
    from ftrag.files import read_examples
    from ftrag.tasks.dialect import closing_em, split_memos
    from ftrag.world.memos import CLOSING

    memos = read_examples("dialect", "test.txt")[:3]
    heads, closings = split_memos(memos)
    assert all(h.endswith("\n") and h + c == m for h, c, m in zip(heads, closings, memos, strict=True))
    assert set(closings) <= set(CLOSING.values())
    with pytest.raises(ValueError, match="one line"):
        split_memos(["STAT: wipz"])
    with pytest.raises(ValueError, match="list of memo"):
        split_memos(memos[0])
    em, chosen = closing_em(tiny_model(tokenizer), tokenizer, memos)
    assert set(chosen) <= set(CLOSING.values()) and len(chosen) == 3
    assert em == sum(c == t for c, t in zip(chosen, closings, strict=True)) / 3
    with pytest.raises(ValueError, match="one context per head"):
        closing_em(tiny_model(tokenizer), tokenizer, memos, ["only one"])


def test_closing_choices_cache_matches_scoring_whole_rows(tokenizer):
    """The memo is read once and its cache shared by the twelve endings: same pick as scoring each full row."""
    import torch

    from ftrag.files import read_examples
    from ftrag.lm import continuation_nll
    from ftrag.tasks.dialect import closing_choices, closing_nll, closing_picks, split_memos
    from ftrag.world.memos import CLOSING

    heads, _ = split_memos(read_examples("dialect", "test.txt")[:4])
    contexts = ["", "A memo before it.\n\n", "", "x " * 600]  # the last one must lose its oldest tokens
    model = tiny_model(tokenizer)
    phrases = sorted(set(CLOSING.values()))
    endings = [tokenizer(p, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for p in phrases]
    limit = model.config.max_position_embeddings
    expected = []
    for head, context in zip(heads, contexts, strict=True):
        body = tokenizer(head, add_special_tokens=False)["input_ids"]
        ctx = tokenizer(context, add_special_tokens=False)["input_ids"] if context else []
        ctx = ctx[max(0, len(ctx) - (limit - 1 - len(body) - max(map(len, endings)))):]
        rows = [tokenizer("")["input_ids"] + ctx + body + e for e in endings]
        nll = continuation_nll(model, rows, [len(r) - len(e) for r, e in zip(rows, endings, strict=True)], 0, 12)
        expected.append(phrases[int(torch.tensor(nll).argmin())])
    assert closing_choices(model, tokenizer, heads, contexts) == expected
    # Per token: the same NLLs divided by each ending's length, so a short phrase no longer wins by being short.
    nll_rows = closing_nll(model, tokenizer, heads, contexts)[1]
    per_token = [phrases[min(range(12), key=lambda j, r=r: r[j] / len(endings[j]))] for r in nll_rows]
    assert closing_choices(model, tokenizer, heads, contexts, per_token=True) == per_token
    assert closing_picks(model, tokenizer, heads, contexts) == {"sum": expected, "per token": per_token}


def test_command_flags_come_from_a_dataclass(capsys):
    """ftrag.cli: a flag per field, dashed as the recorded commands spell it (underscores work too), defaults from
    TrainConfig, an unknown flag refused with argparse's message, the command recorded as typed."""
    from ftrag.cli import command_line, parse, parser_for

    parser = parser_for(adapters.AdapterArgs, prog="python -m ftrag.course.adapters", description="test")
    (args,) = parse(parser, ["--batch-size", "4", "--warmup_steps", "3", "--task", "dialect"])
    assert (args.batch_size, args.warmup_steps, args.task) == (4, 3, "dialect")
    assert (args.steps, args.lr, args.out) == (ft.TrainConfig.steps, ft.TrainConfig.lr, None)
    for bad in (["--bogus", "1"], ["--task", "poetry"]):
        with pytest.raises(SystemExit):
            parse(parser, bad)
    assert "unrecognized arguments: --bogus 1" in capsys.readouterr().err
    assert command_line("ftrag.course.adapters", ["--out", "a b"]) == "python -m ftrag.course.adapters --out 'a b'"


def test_finetune_command_trains_a_dialect_adapter(tokenizer, tmp_path):
    import json

    tiny_model(tokenizer).save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    out = tmp_path / "adapter"
    assert adapters.main(["--task", "dialect", "--model", str(tmp_path / "tiny"), "--steps", "3", "--batch-size", "2",
                    "--warmup-steps", "1", "--eval", "2", "--out", str(out)]) == 0
    record = json.loads((out / "training.json").read_text())
    assert record["task"] == "dialect" and record["config"]["steps"] == 3
    assert set(record["scores"]) == {"dialect_ppl", "closing_line_em", "world_a_ppl"}
    loaded, again = ft.load_adapter(tiny_model(tokenizer), out)
    assert again == record


def test_course_model_in_4bit_generates_on_cpu():
    """bitsandbytes' CPU fast path cannot repack the course model's 688-wide MLP; load_model keeps it off there."""
    pytest.importorskip("bitsandbytes")
    model, tok = M.load_model("course-lm", device="cpu", load_in_4bit=True)
    prompt = M.format_prompt("Where was Anna Berg born?", ["Anna Berg was born in Kastel."])
    assert M.generate(model, tok, [prompt], max_new_tokens=4)[0].strip()


def test_dialect_training_examples_hold_whole_memos(tokenizer):
    from ftrag.tasks import dialect

    examples = dialect.training_examples(tokenizer, steps=2, batch_size=2)
    assert len(examples) >= 4 and all(len(e["input_ids"]) <= dialect.BLOCK_SIZE for e in examples)
    assert examples == dialect.training_examples(tokenizer, steps=2, batch_size=2)  # same memos, same blocks
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        dialect.training_examples(tokenizer, steps=0, batch_size=2)


def test_dialect_sweep_writes_resumable_rows(tokenizer, tmp_path, monkeypatch):
    """The sweep command on a tiny budget: one row per run, the command and budget recorded, resumed not redone."""
    import functools
    import json

    from ftrag.course import forgetting
    from ftrag.tasks import dialect

    monkeypatch.setattr(dialect, "forgetting_scores",
                        functools.partial(dialect.forgetting_scores, n_test=3, n_heldout=3, n_rc=3))
    out = tmp_path / "sweep.json"
    runs = [("lora", 1, 1e-3), ("full", 0, 1e-4)]
    record = forgetting.sweep(out, steps=2, batch_size=1, runs=runs)
    assert [(r["method"], r["rank"]) for r in record["rows"]] == [("base", 0), ("lora", 1), ("full", 0)]
    assert record["budget"]["steps"] == 2 and "python -m ftrag.course.forgetting" in record["command"]
    assert all({"dialect_ppl", "world_a_ppl", "rc_em", "trainable"} <= set(r) for r in record["rows"])
    assert record["rows"][1]["trainable"] < record["rows"][2]["trainable"]
    assert json.loads(out.read_text()) == record
    with pytest.raises(ValueError, match="method must be 'lora' or 'full'"):
        dialect.train_on_memos(tiny_model(tokenizer), tokenizer, method="qlora", steps=1, batch_size=1)
    monkeypatch.setattr(dialect, "train_on_memos", lambda *a, **k: pytest.fail("a recorded run was trained again"))
    assert forgetting.sweep(out, steps=2, batch_size=1, runs=runs)["rows"] == record["rows"]


def test_a_stopped_run_resumes_from_its_checkpoint(tokenizer, examples, tmp_path):
    """A long run saved every few steps and stopped goes on from its last save: the same losses, evaluations, selected
    step and final weights as the run that was never stopped; a finished run deletes its checkpoint; another run's
    checkpoint is refused."""
    config = ft.TrainConfig(steps=8, batch_size=2, lr=1e-2, warmup_steps=1, seed=0, progress=False)

    def run(checkpoint=None, stop_at=None):
        model = ft.lora_model(tiny_model(tokenizer), 2, seed=0)
        calls = []

        def score(m):
            calls.append(1)
            if len(calls) == stop_at:
                raise KeyboardInterrupt  # the learner's Ctrl-C, or a killed process
            return (-float(sum(p.float().norm() for p in m.parameters() if p.requires_grad)),)

        result, _ = ft.train_selected(model, examples, config, score=score, every=2, checkpoint=checkpoint,
                                      checkpoint_every=3)
        return result, {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    whole, want = run()
    ck = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        run(ck, stop_at=4)  # stopped in the evaluation after step 6: saved at step 3, mid-pass
    assert ck.is_file()
    resumed, got = run(ck)
    assert resumed.losses == whole.losses and resumed.evals == whole.evals and resumed.curve == whole.curve
    assert resumed.selected_step == whole.selected_step and resumed.tokens == whole.tokens
    assert all(torch.equal(got[n], want[n]) for n in want) and not ck.exists()
    with pytest.raises(KeyboardInterrupt):
        run(ck, stop_at=5)
    with pytest.raises(ValueError, match="another run .*config"):
        ft.train(ft.lora_model(tiny_model(tokenizer), 2, seed=0), examples,
                 ft.TrainConfig(steps=8, batch_size=2, lr=2e-2, warmup_steps=1, progress=False), checkpoint=ck)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_checkpointed_memo_runs_have_the_same_losses(tokenizer, method, monkeypatch):
    """Lessons 02 and 03 recompute a real model's activations (``gradient_checkpointing``): the gradients, so the
    losses, must be those of the run that keeps them (the notebooks' real-model numbers do not move)."""
    from ftrag.tasks import dialect

    seen = []

    def spy(model, examples, config, **kwargs):  # the switch reaches the loop, and the loop recomputes
        seen.append(config.gradient_checkpointing)
        forward = model.forward
        model.forward = lambda *a, **k: (seen.append(model.is_gradient_checkpointing), forward(*a, **k))[1]
        return ft.train(model, examples, config, **kwargs)

    monkeypatch.setattr(dialect, "train", spy)
    runs = [dialect.train_on_memos(tiny_model(tokenizer), tokenizer, method=method, steps=3, batch_size=2,
                                   warmup_steps=1, progress=False, gradient_checkpointing=on)[1]
            for on in (False, True)]
    assert runs[0].losses == runs[1].losses and len(runs[0].losses) == 3
    assert seen == [False, False, False, False, True, True, True, True]


def test_committed_forgetting_sweep_is_complete():
    """Lesson 03 plots results/03_forgetting_sweep.json: every run of the sweep, every metric, the command."""
    import json

    from ftrag.course import forgetting
    from ftrag.paths import repo_root

    record = json.loads((repo_root() / "results" / "03_forgetting_sweep.json").read_text())
    assert record["command"].startswith("python -m ftrag.course.forgetting") and record["budget"]["seed"] == 0
    done = {(r["method"], r["rank"], r["lr"]) for r in record["rows"]}
    assert set(forgetting.SWEEP) <= done and ("base", 0, 0.0) in done
    for row in record["rows"]:
        assert row["dialect_ppl"] > 1 and row["world_a_ppl"] > 1 and 0 <= row["rc_em"] <= 1


@pytest.mark.slow  # trains two steps here and starts a Python process: about 10 s
def test_costs_of_a_method_in_this_process_and_in_a_fresh_one():
    from ftrag.tasks import json_cost

    with pytest.raises(ValueError, match="unknown method 'adapter'"):
        json_cost.measure("adapter")
    with pytest.raises(ValueError, match="at least 1"):
        json_cost.measure("lora", steps=0)
    here = json_cost.measure("lora", steps=2, batch_size=2)
    assert here["method"] == "lora" and here["trainable"] > 0 and here["seconds_per_step"] > 0
    assert here["peak_mb"] == pytest.approx(here["loaded_mb"] + here["training_mb"]) and here["training_mb"] >= 0
    assert here["checkpointing"] is False
    # the switch reaches the child; recomputing the activations gives the same gradients, so the same losses
    (fresh,) = json_cost.fresh_process_costs(["lora"], steps=2, batch_size=2, gradient_checkpointing=True)
    assert fresh["checkpointing"] is True
    assert (fresh["first_loss"], fresh["last_loss"]) == pytest.approx((here["first_loss"], here["last_loss"]), rel=1e-5)
    with pytest.raises(RuntimeError, match="fresh process failed"):  # the child's error comes back, not a hang
        json_cost.fresh_process_costs(["full"], steps=1, batch_size=1, model_name="no/such-model-here")
