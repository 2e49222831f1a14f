"""The workshop kit: times read from docs/run_stats.json, agendas that add up, teaching notes from the committed
outputs, slides, the pre-flight check (passing here, failing clearly on a corrupted data file) and the handout."""

import copy
import os
import re
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import nbformat
import pytest

from ftrag import decision, preflight
from ftrag.course import guide, real_table, slides, teaching, workshop
from ftrag.paths import repo_root

ROOT = repo_root()


@pytest.fixture(scope="module")
def stats():
    return workshop.load_stats()


def test_readme_run_times_are_the_measured_ones(stats):
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if re.match(r"^\| \d\d \| \[", line)]
    assert len(rows) == len(workshop.lessons())
    for row in rows:
        number, _, _, shown = [c.strip() for c in row.strip("|").split(" | ")][:4]
        rel = workshop.lessons()[number].notebook
        one = f"{stats[rel]['seconds'] / 60:.1f} min"
        two = f"{stats[rel]['threads_2']['seconds'] / 60:.1f} min" if "threads_2" in stats[rel] else None
        assert shown == (f"{two} (1 thread: {one})" if two else f"{one} (1 thread)"), \
            f"README says {shown} for lesson {number}; docs/run_stats.json says {stats[rel]['seconds']} s: " \
            "run `python -m ftrag.course.workshop`"


def test_readme_real_model_runs_are_the_measured_ones(stats):
    """The README's table of the lessons run on SmolLM2 is docs/run_stats.json's ``smollm2`` entries, every one."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- real-model runs -->\n(.*?)\n<!-- /real-model runs -->", readme, flags=re.S)
    assert block, "README.md has lost its real-model runs block"
    assert block.group(1) == real_table.real_model_table(stats), "run `python -m ftrag.course.workshop`"
    measured = [rel for rel, run in stats.items() if rel.startswith("notebooks/") and real_table.REAL_MODEL in run]
    assert len(block.group(1).splitlines()) == 2 + len(measured)


@pytest.mark.parametrize("number", ["00", "01", "02", "03", "04", "05", "06"])
def test_lab_headers_state_the_agendas_lab_time(number, stats):
    """A lab's header says as many minutes as the agendas give it (allowance + its solution's measured run)."""
    lesson = workshop.lessons()[number]
    for rel in (lesson.lab, lesson.solution):
        header = nbformat.read(ROOT / rel, as_version=4).cells[0].source
        found = re.search(r"\*\*Time:\*\* about (\d+) minutes", header)
        assert found, f"{rel}: no '**Time:** about N minutes' in its first cell"
        assert int(found.group(1)) == workshop.lab_minutes(stats, lesson), \
            f"{rel} says {found.group(1)} min, the agendas {workshop.lab_minutes(stats, lesson)}: update its header"


def test_generated_pages_match_the_files():
    stale = [p.relative_to(ROOT).as_posix() for p, text in workshop.pages().items()
             if not p.is_file() or p.read_text() != text]
    assert not stale, f"out of date: {stale}; run `python -m ftrag.course.workshop`"


@pytest.mark.parametrize("name", list(workshop.AGENDAS))
def test_agenda_slots_add_up_and_follow_the_measured_times(name, stats):
    text = (ROOT / "instructor" / f"agenda_{name}.md").read_text()
    slots, total, planned = workshop.parse_agenda(text)
    assert sum(m for _, m, _ in slots) == total == planned == workshop.AGENDAS[name]["length"]
    start = 0
    for clock, minutes, _kind in slots:  # each slot starts where the previous one ended
        assert clock == workshop._clock(start) and minutes >= 0
        start += minutes
    lessons = workshop.lessons()
    rows = [r for r in text.splitlines() if re.match(r"^\| \d+:\d\d \| \d+ \| (demo|lab) \|", r)]
    for row in rows:  # a demo or lab slot is the measured time rounded up plus the stated allowance
        _, minutes, kind, what = [c.strip() for c in row.strip("|").split(" | ")][:4]
        number = re.search(r"\[(?:lab )?(\d\d)", what).group(1)
        rel = lessons[number].notebook if kind == "demo" else lessons[number].solution
        allowance = (workshop.READING if kind == "demo" else workshop.LAB)[number]
        assert int(minutes) == -(-stats[rel]["seconds"] // 60) + allowance, row
    kinds = {k for _, _, k in slots}
    assert {"demo", "lab", "discussion"} <= kinds


def test_a_new_measurement_makes_the_pages_stale(stats):
    changed = copy.deepcopy(stats)
    changed["notebooks/05_finetune_or_rag.ipynb"]["seconds"] += 120
    lessons = workshop.lessons()
    assert workshop.agenda_markdown("taster_90min", changed, lessons) != \
        workshop.agenda_markdown("taster_90min", stats, lessons)
    readme = (ROOT / "README.md").read_text()
    assert workshop.readme_text(readme, changed) != readme
    changed["notebooks/05_finetune_or_rag.ipynb"]["seconds"] += 3600  # a lesson that no longer fits the taster
    with pytest.raises(ValueError, match="more than the session"):
        workshop.agenda_markdown("taster_90min", changed, lessons)


def test_teaching_notes_hold_the_committed_claims_and_the_content():
    for number, lesson in workshop.lessons().items():
        notes = (ROOT / lesson.notes).read_text()
        content = teaching.NOTES[number]
        assert content["questions"] and content["mistakes"] and content["trouble"]
        lab = "\n".join(c.source for c in nbformat.read(ROOT / lesson.lab, as_version=4).cells)
        for name, _, _ in content["mistakes"]:
            assert name in lab, f"lesson {number}: {name!r} is not an exercise of {lesson.lab}"
        for proof in workshop.evidence(ROOT / lesson.notebook):
            for line in proof["lines"]:
                assert line.replace("|", "/") in notes
        assert workshop.HEADLINE[number][0] in notes
        assert "{peak}" not in notes and "{run}" not in notes  # measured values filled in


def test_instructor_readme_links_everything():
    text = (ROOT / "instructor" / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith("http"):
            assert (ROOT / "instructor" / target).resolve().exists(), f"broken link: {target}"
    headings = {h.lower().replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in headings, f"no section for #{anchor}"
    assert "WHEELHOUSE" not in text


# ----------------------------------------------------------------------------------------------------------
# Slides


def test_every_lesson_carries_slideshow_metadata():
    for path in slides.lesson_paths():
        assert not slides.problems(nbformat.read(path, as_version=4)), \
            f"{path.name}: run `python -m ftrag.course.slides --tag`"


def test_one_deck_builds_with_one_slide_per_heading(tmp_path):
    path = ROOT / "notebooks" / "00_start_here.ipynb"
    deck = slides.build(path, tmp_path)
    html = deck.read_text()
    nb = nbformat.read(path, as_version=4)
    assert slides.expected_slides(nb) >= 5
    assert slides.count_slides(html) == slides.expected_slides(nb)
    # nbconvert nests each slide's first part in a section of its own: 2 sections a slide, 1 a sub-slide
    assert html.count("<section") == 2 * slides.expected_slides(nb) + slides.expected_subslides(nb)
    assert "reveal" in html


def test_slide_rule():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    assert slides.slide_type(md("## 2. A section")) == "slide"
    assert slides.slide_type(md("### A detail")) == "subslide"
    assert slides.slide_type(md("Some text"), code("x = 1")) == "subslide"
    assert slides.slide_type(md("Some text"), md("## heading")) == "-"
    assert slides.slide_type(code('if "google.colab" in sys.modules:\n    !git clone x')) == "skip"


# ----------------------------------------------------------------------------------------------------------
# Pre-flight


def test_preflight_passes_here():
    report = preflight.preflight()
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == list(preflight.CHECKS)
    assert all(str(c).startswith("PASS") for c in report.checks)
    with pytest.raises(ValueError, match="unknown check"):
        preflight.preflight(["no such check"])


def test_preflight_fails_clearly_on_a_corrupted_data_file(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    with open(data / "knowledge" / "qa.jsonl", "a") as f:
        f.write('{"question": "a line that should not be here"}\n')
    env = {**os.environ, "FTRAG_DATA": str(data)}
    done = subprocess.run([sys.executable, "-m", "ftrag.preflight"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 1 and "data checksums" in fails[0] and "changed: knowledge/qa.jsonl" in fails[0], lines
    fix = lines[lines.index(fails[0]) + 1]
    assert fix.strip().startswith("fix:") and "git checkout -- data/" in fix
    assert lines[lines.index(fails[0]) + 2].strip() == "more: docs/troubleshooting.md#data-checksums"
    assert sum(line.startswith("PASS") for line in lines) == len(preflight.CHECKS) - 1  # nothing else broke
    assert lines[-1].startswith(f"{len(preflight.CHECKS) - 1} PASS, 1 FAIL")
    assert not done.stderr.strip(), done.stderr  # one clear line, no traceback or library chatter


def test_a_crashing_check_is_a_fail_line_and_the_rest_still_run(monkeypatch):
    def broken():
        raise RuntimeError("the disk is on fire")

    monkeypatch.setitem(preflight.CHECKS, "disk", broken)
    report = preflight.preflight(["python", "disk", "memory"])
    assert {c.name: c.ok for c in report.checks} == {"python": True, "disk": False, "memory": True}
    assert "RuntimeError: the disk is on fire" in str(report) and "fix:" in str(report)
    assert "more: docs/troubleshooting.md#a-check-that-crashed" in str(report)


def _github_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_preflight_failure_links_a_section_that_exists():
    page = (ROOT / preflight.TROUBLESHOOTING).read_text()
    anchors = {_github_anchor(line[3:]) for line in page.splitlines() if line.startswith("## ")}
    assert set(preflight.SECTIONS) == {*preflight.CHECKS, "crashed"}
    missing = {name: a for name, a in preflight.SECTIONS.items() if a not in anchors}
    assert not missing, f"no such heading in {preflight.TROUBLESHOOTING}: {missing} (headings: {sorted(anchors)})"


# ----------------------------------------------------------------------------------------------------------
# Handout


def test_handout_is_one_self_contained_page(tmp_path):
    out = tmp_path / "decision.html"
    assert guide.main(["--html", str(out)]) == 0
    html = out.read_text()
    assert html.count("<tr>") == len(decision.ROWS) + 1
    for situation, _, evidence, _ in decision.ROWS:
        assert situation.split(" (")[0] in html
        assert escape(decision.fill(evidence, links=False))[:60] in html
    assert "<script" not in html and not re.search(r"(src|href)=\"?https?:", html)
    assert "size: A4 landscape" in html
    assert not re.search(r"\{\d\d:", html)  # every number filled in


def test_gpu_memory_probe_is_nan_without_a_gpu(monkeypatch):
    from ftrag.env import gpu_used_mb

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no nvidia-smi here
    value = gpu_used_mb()
    assert value != value


def test_authored_notebooks_match_their_sources():
    """A notebook built from authoring/ keeps its source's cells (and a lesson its slideshow metadata)."""
    sys.path.insert(0, str(ROOT / "authoring"))
    try:
        import nb as builder
    finally:
        sys.path.pop(0)
    from ftrag.course import colab

    sources = [p for p in sorted((ROOT / "authoring").glob("*.py")) if p.name != "nb.py"]
    targets = {builder.cells_of(p.read_text())[0] for p in sources}
    notebooks = {p.relative_to(ROOT).as_posix() for d in ("notebooks", "solutions") for p in (ROOT / d).glob("*.ipynb")}
    assert targets == notebooks, f"every lesson and solution has one source in authoring/: {notebooks ^ targets}"
    for source in sources:
        target, cells = builder.cells_of(source.read_text())
        built = colab.rewrite(nbformat.v4.new_notebook(cells=cells), target)
        if target.startswith("notebooks/"):
            slides.tag(built)
        committed = nbformat.read(ROOT / target, as_version=4)
        assert [(c.cell_type, c.source, c.metadata.get("slideshow")) for c in built.cells] == \
            [(c.cell_type, c.source, c.metadata.get("slideshow")) for c in committed.cells], \
            f"{target} differs from {source.name}: run `python authoring/nb.py {source.relative_to(ROOT)}` " \
            f"and `python -m ftrag.course.refresh {target}`"
