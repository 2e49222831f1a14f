"""What the real-model commands share (``real_json``, ``real_dialect``, ``real_rag``, ``real_facts``): the record of a
run (a resumable :class:`SweepFile` that names the machine it ran on), how a run ends (its time and the values the
decision guide reads), the reading scores of a model that answers in sentences, and the command line.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import torch

from ftrag.cli import parse, parser_for
from ftrag.course.sweep import SweepFile
from ftrag.lm import contains_answer, exact_match, token_f1
from ftrag.pretrain.report import cpu_description

# What the guide's *_em keys hold for a real reader: it answers in sentences ("The outage ran for 7 hours."), which
# exact match scores 0; containment tells a right sentence from a wrong one (strict EM is recorded beside).
ANSWER_METRIC = "contains_answer"


class RealRun:
    """One command's record: rows by name (resumed when ``out`` holds them with the same ``budget``), the machine,
    and at the end the time and ``values`` (the lesson's own keys, for ``ftrag.decision.real_values``)."""

    def __init__(self, out: str | Path, budget: dict, command: str, **fields):
        self.rows = SweepFile(out, budget, command=command, threads=torch.get_num_threads(), cpu=cpu_description(),
                              machine=platform.machine(), torch=torch.__version__, date=date.today().isoformat(),
                              **fields)
        self.started, self.ran = time.perf_counter(), False
        record = self.rows.record  # a resumed record: the time its kept rows took before (0 when it starts over;
        # None when a record older than seconds_all_runs does not say: its seconds_last_run timed only its last run)
        self.earlier = record.get("seconds_all_runs") if record["rows"] else 0.0

    def todo(self, name: str) -> bool:
        """Whether the row ``name`` is still to be made (and, if so, that this run made something)."""
        if name in self.rows:
            return False
        self.ran = True
        return True

    def todo_part(self, name: str, part: str) -> bool:
        """Whether the recorded row ``name`` lacks the field ``part`` (a step added to the command after the row was
        made: the command makes it, and keeps the row's other fields); if so, that this run made something."""
        if name not in self.rows or part in self.rows.rows[name]:
            return False
        self.ran = True
        return True

    def finish(self, values: Callable[[dict], dict]) -> dict:
        """Record the run's time, and in ``seconds_all_runs`` with the runs that made the resumed rows (left out when a
        resumed record does not say what they took; a resumed run that had nothing left to do keeps the recorded
        ones), and ``values(record)``; save and return the record."""
        if self.ran:
            seconds = time.perf_counter() - self.started
            self.rows.record["seconds_last_run"] = round(seconds, 1)
            if self.earlier is not None:  # with the resumed rows' runs
                self.rows.record["seconds_all_runs"] = round(self.earlier + seconds, 1)
        self.rows.record["values"] = values(self.rows.record)
        self.rows.save()
        return self.rows.record


def reading_scores(predictions: Sequence[str], answers: Sequence[str], seconds: float) -> dict:
    """Containment, strict exact match and token F1 of sentence answers, the time, and three examples."""
    return {"contains": contains_answer(predictions, answers), "strict_em": exact_match(predictions, answers),
            "token_f1": token_f1(predictions, answers), "seconds": round(seconds, 1),
            "examples": [[a, p] for a, p in zip(answers[:3], predictions[:3], strict=True)]}


def metric_key(record: dict) -> str:
    """The row field that the guide's *_em keys read, from the record's ``answer_metric``."""
    return {"contains_answer": "contains", "exact_match": "strict_em"}[record["answer_metric"]]


def command_line(args_class, argv: list[str] | None, *, prog: str, description: str, run: Callable) -> int:
    """Parse ``argv`` into ``args_class`` (each has ``threads``), set torch's CPU threads, ``run(args)``; exit 0."""
    (args,) = parse(parser_for(args_class, prog=prog, description=description), argv)
    torch.set_num_threads(args.threads)
    run(args)
    return 0
