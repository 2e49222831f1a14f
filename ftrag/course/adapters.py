"""Train the adapters the course ships (``data/models/json-lora``, ``json-qlora``, ``dialect-lora``): train, save,
score.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag.cli import arg, command_line, parse, parser_for
from ftrag.env import seed_everything
from ftrag.files import read_examples
from ftrag.lm import load_model, perplexity
from ftrag.tasks import json_output as jt
from ftrag.tasks.dialect import closing_em, training_examples
from ftrag.train.loop import TrainConfig, train
from ftrag.train.lora import lora_model, qlora_model, save_adapter, tokens_to_train
from ftrag.train.select import keep_if_best, restore

# ----------------------------------------------------------------------------------------------------------
# Command line: train an adapter (or a full fine-tune) on lesson 02's JSON task or lesson 03's dialect, save, score


def _task_data(task: str, tokenizer, args) -> tuple[list[dict], Callable]:
    """The training examples of a task and a function ``model -> scores`` on its test split."""

    if task == "json-control":  # lesson 02's learnability control: the JSON task plus a random code per answer
        def score_control(model) -> dict:
            rows = jt.with_random_code(jt.load_split("test")[:args.eval])
            return {"loss_by_kind": jt.loss_by_kind(model, tokenizer, rows)}
        return jt.sft_dataset(tokenizer, jt.with_random_code(jt.load_split("train"))), score_control

    if task == "json":
        def score_json(model) -> dict:
            rows = jt.load_split("test")[:args.eval]
            return jt.score(jt.json_outputs(model, tokenizer, [r["text"] for r in rows]),
                            [r["target"] for r in rows])
        return jt.sft_dataset(tokenizer, jt.load_split("train")), score_json

    examples = training_examples(tokenizer, args.steps, args.batch_size, args.block_size)

    def score_dialect(model) -> dict:
        test = read_examples("dialect", "test.txt")[:args.eval]
        em, _ = closing_em(model, tokenizer, test)
        return {"dialect_ppl": perplexity(model, tokenizer, test), "closing_line_em": em,
                "world_a_ppl": perplexity(model, tokenizer, read_examples("world_a", "heldout.txt")[:100])}
    return examples, score_dialect


@dataclass
class AdapterArgs:
    """The flags of ``python -m ftrag.course.adapters``; the training ones default to ``TrainConfig``'s values."""

    task: str = arg("json", "what to train on (json-control: the JSON task with a random code added to each answer)",
                    choices=("json", "json-control", "dialect"))
    model: str | None = arg(None, "course-lm (default), a local folder or a hub id")
    method: str = arg("lora", "what to train", choices=("lora", "qlora", "full"))
    rank: int = arg(4, "LoRA rank r (lora and qlora)")
    steps: int = arg(TrainConfig.steps, "optimizer steps")
    batch_size: int = arg(TrainConfig.batch_size, "examples per step")
    block_size: int = arg(512, "dialect: tokens per packed block (a memo is ~155 tokens: keep it longer than that)")
    eval_every: int = arg(0, "score the validation split every N steps, recorded in training.json (dialect: "
                             "closing-line EM on 100 memos; json: all scores on its 200 notices)")
    lr: float = arg(TrainConfig.lr, "peak learning rate")
    warmup_steps: int = arg(TrainConfig.warmup_steps, "linear warm-up steps")
    seed: int = arg(0, "seed of the example order and the token-row noise")
    eval: int = arg(200, "test notices or memos to score after training (0: none)")
    out: str | None = arg(None, "folder to save the adapter (lora, qlora) or model (full) in")


def _rounded(scores: dict) -> dict:
    """Scores with floats to 4 decimals (nested ``per_field`` too), as training.json records them."""
    return {k: round(v, 4) if isinstance(v, float) else _rounded(v) if isinstance(v, dict) else v
            for k, v in scores.items()}


def _json_validation(model, tokenizer, valid: list[dict], args, curve: list[dict], best: dict) -> Callable:
    """``eval_fn`` for the JSON task: score the validation notices, append them to ``curve``, and keep the trained
    weights of the best evaluation so far in ``best`` (early stopping: object EM, then field EM; a tie keeps the
    earlier, shorter run). Returns field EM (what ``train`` records in ``result.evals``)."""

    def eval_fn() -> float:
        scores = jt.score(jt.json_outputs(model, tokenizer, [r["text"] for r in valid]), [r["target"] for r in valid])
        curve.append({"step": len(curve) and min(len(curve) * args.eval_every, args.steps), **_rounded(scores)})
        print(f"step {curve[-1]['step']}: validation field EM {scores['field_em']:.3f}, "
              f"object EM {scores['object_em']:.3f}, date {scores['per_field']['date']:.3f}", flush=True)
        keep_if_best(best, (scores["object_em"], scores["field_em"]), curve[-1]["step"], model)
        return scores["field_em"]
    return eval_fn


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.adapters --task json --method lora --steps 600 --out FOLDER``: train, save, score."""
    parser = parser_for(AdapterArgs, prog="python -m ftrag.course.adapters",
                        description="Fine-tune a model on lesson 02's JSON task (supervised) or on lesson 03's "
                                    "dialect memos (continued pretraining); save, score.")
    (args,) = parse(parser, argv)
    seed_everything(args.seed)
    model, tokenizer = load_model(args.model, device="cpu" if args.method != "qlora" else None)
    examples, score = _task_data(args.task, tokenizer, args)
    token_ids = tokens_to_train(model, tokenizer, examples)
    if args.method == "lora":
        model = lora_model(model, args.rank, token_ids=token_ids, reinit_tokens=True, seed=args.seed)
    elif args.method == "qlora":
        model, tokenizer = qlora_model(args.model, args.rank, token_ids=token_ids, reinit_tokens=True,
                                       seed=args.seed)
    else:
        model.requires_grad_(True)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps,
                         seed=args.seed, gradient_checkpointing=args.method == "qlora")
    eval_fn = None
    curve: list[dict] = []  # json: the validation scores at each evaluation (field EM alone goes to result.evals)
    best: dict = {"key": None, "step": None, "weights": None}
    if args.eval_every and args.task == "dialect":
        valid = read_examples("dialect", "valid.txt")[:100]
        seen: list[float] = []

        def eval_fn() -> float:  # early stopping on the validation memos: a tie keeps the earlier, shorter run
            em, _ = closing_em(model, tokenizer, valid)
            step = len(seen) and min(len(seen) * args.eval_every, args.steps)
            seen.append(em)
            print(f"step {step}: validation closing-line EM {em:.3f}", flush=True)
            keep_if_best(best, (em,), step, model)
            return em
    elif args.eval_every:
        if args.task != "json":
            parser.error("--eval-every is for --task json or dialect")
        valid = jt.load_split("valid")
        eval_fn = _json_validation(model, tokenizer, valid, args, curve, best)
    result = train(model, examples, config, pad_id=tokenizer.pad_token_id, eval_fn=eval_fn,
                   eval_every=args.eval_every)
    print(result.summary(), flush=True)
    if best["weights"] is not None:  # with --eval-every: the selected checkpoint is the one scored and saved
        restore(model, best["weights"])
        shown = (f"closing-line EM {best['key'][0]:.3f}" if args.task == "dialect" else
                 f"object EM {best['key'][0]:.3f}, field EM {best['key'][1]:.3f}")
        print(f"selected on validation: step {best['step']} of {args.steps} ({shown})", flush=True)
    scores = None
    if args.eval:
        model.eval()
        scores = _rounded(score(model))
        print(json.dumps(scores))
    if args.out:
        if args.method == "full":  # a whole model: with its tokenizer, so load_model(folder) can load it
            model.save_pretrained(args.out)
            tokenizer.save_pretrained(args.out)
        else:
            save_adapter(model, args.out)
        # What produced it: a notebook that loads the adapter can show how it was trained and check its scores.
        record = {"command": command_line("ftrag.course.adapters", argv),
                  "task": args.task, "method": args.method, "rank": args.rank,
                  "config": {k: v for k, v in vars(config).items() if k != "progress"},
                  "train_seconds": round(result.seconds, 1), "trainable": result.trainable, "total": result.total,
                  "tokens": result.tokens, "first_loss": round(result.losses[0], 4),
                  "last_loss": round(result.final_loss, 4),
                  "threads": torch.get_num_threads(), "scores": scores, "eval_rows": args.eval,
                  **({"valid_closing_em": result.evals, "valid_rows": len(valid), "selected_step": best["step"]}
                     if args.eval_every and args.task == "dialect" else {}),
                  **({"valid_rows": len(valid), "selected_step": best["step"], "valid_curve": curve} if curve
                     else {})}
        (Path(args.out) / "training.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
