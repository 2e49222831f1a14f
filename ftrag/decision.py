"""The decision guide's rows: when to fine-tune, retrieve, both or neither, each with evidence read from ``results/``.

Each row's verdict carries a ``rule``: a comparison of recorded numbers that must hold for the verdict to follow
(``{05:rag_em} - {05:docs_full_em} >= 0.2``). :func:`check` evaluates every rule; the guide is not written while one
fails, so a rerun lesson whose numbers no longer support a row stops the guide instead of leaving it wrong.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from importlib.resources import files

import yaml

from ftrag.results import load_results, results_dir

LESSONS = {"01": "01_autoregressive_prediction", "02": "02_json_finetuning", "03": "03_dialect_finetuning",
           "04": "04_rag_pipeline", "05": "05_finetune_or_rag"}
# A lesson's real-model numbers may come from more than one command: lesson 05's fine-tuning arms
# (``ftrag.course.real_injection``) are recorded apart from its reading arms (``ftrag.course.real_facts``).
REAL_EXTRA = {"05": ("05_injection",)}
LINKS = {k: f"../notebooks/{v}.ipynb" for k, v in LESSONS.items()}

GUIDE = "decision_guide.yaml"  # the rows, beside this file: edit them there


def _load_entries(name: str, keys: tuple[str, ...]) -> list[dict]:
    """The entries of ``ftrag/<name>``, each checked to hold exactly the texts ``keys``."""
    entries = yaml.safe_load(files(__package__).joinpath(name).read_text(encoding="utf-8"))
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != set(keys) or not all(isinstance(entry[k], str) for k in keys):
            raise ValueError(f"ftrag/{name}: each entry needs exactly the texts {', '.join(keys)}; got {entry!r}")
    return entries


def load_rows() -> list[tuple[str, str, str, str]]:
    """The guide's rows from ``ftrag/decision_guide.yaml``: (situation, what to do, evidence template, rule)."""
    keys = ("situation", "do", "evidence", "rule")
    return [tuple(row[k] for k in keys) for row in _load_entries(GUIDE, keys)]


CLAIMS_FILE = "seed_claims.yaml"  # the claims the course set out to test, beside this file
VERDICTS = ("supports", "contradicts", "cannot decide", "not measured here")


def load_claims() -> list[dict]:
    """The claims from ``ftrag/seed_claims.yaml``: claim, source, evidence template, supports and contradicts rules."""
    return _load_entries(CLAIMS_FILE, ("claim", "source", "evidence", "supports", "contradicts"))


CLAIMS = load_claims()

# (situation, what to do, evidence, rule). In the evidence, {NN:key} is results/NN_*.json's value for key, and
# {NN:key:FORMAT} formats it (Python format spec); [NN] links the lesson (``fill`` does both). The rule is a
# comparison of {NN:key} values (``holds`` evaluates it).
ROWS = load_rows()

_FIELD = re.compile(r"\{(\d\d):([a-z0-9_]+)(?::([^}]*))?\}")
_LINK = re.compile(r"\[(\d\d)\]")


SWEEP = "03_forgetting_sweep"  # lesson 03's learn-vs-forget sweep (python -m ftrag.course.forgetting)
EQUAL_FORGETTING = 0.01  # "equal forgetting": World A perplexity within 1% of the base model's


def sweep_values(sweep: dict, tolerance: float = EQUAL_FORGETTING) -> dict[str, float]:
    """From lesson 03's sweep: per method, the lowest dialect perplexity among runs that forgot at most
    ``tolerance`` of World A (perplexity <= base x (1 + tolerance)), as ``sweep_{method}_dialect_ppl_kept``."""
    rows = sweep["rows"]
    base = next(r for r in rows if r["method"] == "base")["world_a_ppl"]
    out = {}
    for method in ("lora", "full"):
        kept = [r["dialect_ppl"] for r in rows if r["method"] == method
                and r["world_a_ppl"] <= base * (1 + tolerance)]
        if not kept:
            raise ValueError(f"results/{SWEEP}.json has no {method} run within {tolerance:.0%} of the base model's "
                             f"World A perplexity: rerun `python -m ftrag.course.forgetting`")
        out[f"sweep_{method}_dialect_ppl_kept"] = min(kept)
    return out


def recorded_values() -> dict[str, dict]:
    """Every lesson's recorded results (``results/NN_*.json``), by lesson number; lesson 03's also hold the sweep's
    summary (:func:`sweep_values`)."""
    values = {lesson: load_results(stem) for lesson, stem in LESSONS.items()}
    values["03"] = {**values["03"], **sweep_values(load_results(SWEEP))}
    return values


def fill(template: str, values: dict[str, dict] | None = None, *, links: bool = True) -> str:
    """``template`` with every ``{NN:key[:fmt]}`` replaced by the lesson's recorded value (and ``[NN]`` linked)."""
    values = values if values is not None else recorded_values()

    def number(match: re.Match) -> str:
        lesson, key, spec = match.group(1), match.group(2), match.group(3) or ""
        if lesson not in values:
            raise KeyError(f"no results file for lesson {lesson}; known: {sorted(values)}")
        if key not in values[lesson]:
            raise KeyError(f"results/{LESSONS[lesson]}.json has no {key!r}; rerun lesson {lesson} "
                           f"(`python -m ftrag.course.refresh notebooks/{LESSONS[lesson]}.ipynb`)")
        return format(values[lesson][key], spec)

    text = _FIELD.sub(number, template)
    if links:
        return _LINK.sub(lambda m: f"([lesson {m.group(1)}]({LINKS[m.group(1)]}))", text)
    return _LINK.sub(lambda m: f"(lesson {m.group(1)})", text)


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


def _evaluate(node: ast.AST, numbers: list[float]):
    """A rule's syntax tree, evaluated: numbers, the i-th field (``_f[i]``), + - * /, comparisons, and, or."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, numbers)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "_f":
        return numbers[node.slice.value]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_evaluate(node.left, numbers), _evaluate(node.right, numbers))
    if isinstance(node, ast.BoolOp):
        results = [_evaluate(v, numbers) for v in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.Compare):
        left, ok = _evaluate(node.left, numbers), True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(right_node, numbers)
            ok = ok and _OPS[type(op)](left, right)
            left = right
        return ok
    raise ValueError(f"a rule may use numbers, {{NN:key}} fields, + - * /, comparisons, and, or; not "
                     f"{ast.dump(node)[:60]}")


def holds(rule: str, values: dict[str, dict] | None = None) -> bool:
    """Whether ``rule`` (e.g. ``{05:rag_em} - {05:docs_full_em} >= 0.2``) holds for the recorded numbers."""
    values = values if values is not None else recorded_values()
    numbers: list[float] = []

    def field(match: re.Match) -> str:
        fill(match.group(0), values)  # a clear error for a missing lesson or key
        numbers.append(float(values[match.group(1)][match.group(2)]))
        return f"_f[{len(numbers) - 1}]"

    expression = _FIELD.sub(field, rule)
    if not numbers:
        raise ValueError(f"the rule {rule!r} reads no recorded number: a verdict must follow from measurements")
    return bool(_evaluate(ast.parse(expression, mode="eval"), numbers))


def shown_rule(rule: str, values: dict[str, dict] | None = None) -> str:
    """The rule with each field's recorded value beside its name: ``05:rag_em (0.865) - ...``."""
    values = values if values is not None else recorded_values()

    def shown(match: re.Match) -> str:
        value = values[match.group(1)][match.group(2)]
        return f"{match.group(1)}:{match.group(2)} ({value:,.0f})" if abs(value) >= 100 else \
            f"{match.group(1)}:{match.group(2)} ({value:.3g})"

    return _FIELD.sub(shown, rule)


def check(values: dict[str, dict] | None = None) -> None:
    """Raise if a row's verdict no longer follows from the numbers (its rule fails), naming the row and its rule."""
    values = values if values is not None else recorded_values()
    failed = [f"row {i} ({do.replace('**', '')[:50]}...): {shown_rule(rule, values)}"
              for i, (_, do, _, rule) in enumerate(ROWS, 1) if not holds(rule, values)]
    if failed:
        raise ValueError("the numbers no longer support these verdicts; rewrite the rows in ftrag/decision_guide.yaml "
                         "so that each follows from what the lessons measured:\n  " + "\n  ".join(failed))


# ----------------------------------------------------------------------------------------------------------
# The real model beside the course model: does each row's conclusion carry over?

REAL_MODEL = "smollm2"  # results/smollm2/NN_name.json: the lessons' numbers on SmolLM2-135M-Instruct
CARRIES = ("yes", "partly", "no", "not measured yet")
# Numbers no model computes (retrieval's recall, abstention by a retrieval score, the tokens the embedder reads to
# add a document): the same for every reader, so a
# real model's verdict reads them from the course model's results, and the guide marks them "same retrieval".
READER_FREE = {"04": ("bm25_recall_at_1", "described_recall_at_1_bm25", "described_recall_at_1_dense",
                      "described_recall_at_1_hybrid", "misspelled_recall_at_1_bm25", "misspelled_recall_at_1_dense",
                      "misspelled_recall_at_1_hybrid", "two_hop_recall_at_5_best", "two_hop_bridge_at_1_min"),
               "05": ("abstain_answerable_answered", "abstain_unanswerable_abstained", "rag_add_fact_tokens")}


def real_values(model: str = REAL_MODEL, course: dict[str, dict] | None = None) -> dict[str, dict]:
    """The lessons' numbers on a real model, by lesson number, for the lessons that have been run on it: the
    ``values`` of ``results/<model>/NN_name.json`` (the lesson's own keys; the file's ``command`` made it) and of
    its ``REAL_EXTRA`` records (no key twice), plus
    the ``READER_FREE`` numbers of the course model's results (``course``, default: ``recorded_values()``)."""
    out: dict[str, dict] = {}
    for lesson, stem in LESSONS.items():
        for name in (stem, *REAL_EXTRA.get(lesson, ())):
            path = results_dir() / model / f"{name}.json"
            if path.is_file():
                record = json.loads(path.read_text())
                if not record.get("values"):
                    raise ValueError(f"{path} holds no 'values' (an interrupted run?): rerun "
                                     f"`{record.get('command')}`")
                clash = set(record["values"]) & set(out.get(lesson, {}))
                if clash:
                    raise ValueError(f"{path} repeats {sorted(clash)} of lesson {lesson}'s other record")
                out.setdefault(lesson, {}).update(record["values"])
    return with_reader_free(out, course if course is not None else recorded_values())


def clauses(rule: str) -> list[str]:
    """A rule's top-level ``and`` clauses (a rule that is not a plain conjunction is one clause)."""
    pieces = [p.strip() for p in re.split(r"\s+and\s+", rule.strip())]
    tree = ast.parse(_FIELD.sub("0", rule.strip()), mode="eval").body
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) and len(tree.values) == len(pieces):
        return pieces
    return [rule.strip()]


def with_reader_free(real: dict[str, dict], course: dict[str, dict]) -> dict[str, dict]:
    """``real`` plus the course model's ``READER_FREE`` numbers (retrieval only: the same for every reader)."""
    merged = {lesson: dict(values) for lesson, values in real.items()}
    for lesson, keys in READER_FREE.items():
        for key in keys:
            if key in course.get(lesson, {}):
                merged.setdefault(lesson, {}).setdefault(key, course[lesson][key])
    return merged


def carries_over(rule: str, real: dict[str, dict]) -> tuple[str, list[tuple[str, str]]]:
    """Whether a row's conclusion carries over to the real model, by one stated rule: each clause of the row's rule
    is evaluated on the real model's numbers where they were measured; "yes" when every measured clause holds, "no"
    when none does, "partly" otherwise, "not measured yet" when no clause could be evaluated. Returns the verdict
    and, per clause, ("holds" | "fails" | "not measured", the clause with the real model's values; a clause that
    reads only ``READER_FREE`` numbers is marked "same retrieval")."""
    outcomes = []
    for clause in clauses(rule):
        fields = _FIELD.findall(clause)
        if all(lesson in real and key in real[lesson] for lesson, key, _ in fields):
            shown = shown_rule(clause, real)
            if all(key in READER_FREE.get(lesson, ()) for lesson, key, _ in fields):
                shown += " (same retrieval)"
            outcomes.append(("holds" if holds(clause, real) else "fails", shown))
        else:
            outcomes.append(("not measured", _FIELD.sub(lambda m: f"{m.group(1)}:{m.group(2)}", clause)))
    measured = [o for o, _ in outcomes if o != "not measured"]
    if not measured:
        return "not measured yet", outcomes
    verdict = "yes" if all(o == "holds" for o in measured) else "no" if "holds" not in measured else "partly"
    return verdict, outcomes


def carries_over_text(rule: str, real: dict[str, dict]) -> str:
    """:func:`carries_over` as the guide's cell: the verdict in bold, then each clause and what it did."""
    verdict, outcomes = carries_over(rule, real)
    if verdict == "not measured yet":
        missing = sorted({f"{a}:{b}" for a, b, _ in _FIELD.findall(rule) if b not in real.get(a, {})})
        return f"**{verdict}**: {', '.join(missing)} not recorded for this model"
    measured = sum(o != "not measured" for o, _ in outcomes)
    counted = f" ({measured} of {len(outcomes)} clauses measured)" if 0 < measured < len(outcomes) else ""
    return f"**{verdict}**{counted}: " + "; ".join(f"{o} `{c}`" for o, c in outcomes)


def claim_verdict(entry: dict, values: dict[str, dict] | None = None) -> str:
    """One of ``VERDICTS`` for a claim of ``seed_claims.yaml``, from its rules and the recorded numbers."""
    values = values if values is not None else recorded_values()
    if not entry["supports"].strip() and not entry["contradicts"].strip():
        return "not measured here"
    supports = bool(entry["supports"].strip()) and holds(entry["supports"], values)
    contradicts = bool(entry["contradicts"].strip()) and holds(entry["contradicts"], values)
    if supports and contradicts:
        raise ValueError(f"both rules of the claim {entry['claim'][:60]!r} hold: make them exclusive")
    return "supports" if supports else "contradicts" if contradicts else "cannot decide"


def claims_table(values: dict[str, dict] | None = None, *, links: bool = True) -> list[dict]:
    """Each claim with its source, evidence (numbers filled in; ``links``: lessons as Markdown links) and verdict."""
    values = values if values is not None else recorded_values()
    return [{"claim": c["claim"], "source": c["source"], "evidence": fill(c["evidence"], values, links=links),
             "verdict": claim_verdict(c, values)} for c in CLAIMS]


def table(values: dict[str, dict] | None = None):
    """The guide as a DataFrame (situation, do, evidence, rule), numbers filled in; raises if a rule fails."""
    import pandas as pd

    values = values if values is not None else recorded_values()
    check(values)
    return pd.DataFrame([{"situation": s, "do": d.replace("**", ""), "evidence": fill(e, values, links=False),
                          "rule": shown_rule(r, values)} for s, d, e, r in ROWS])
