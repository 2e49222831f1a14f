"""Unit tests of the helper package's first cut: seeds, devices, paths, checks, lab generation."""

import platform

import pytest
import torch

from ftrag import data_dir, data_path, get_device, seed_everything
from ftrag.check import CheckFailed, call_solution, expect_close, expect_equal, expect_filled
from ftrag.course.labs import LabSyntaxError, strip_solution
from ftrag.env import environment_report


def test_seed_everything_repeats_torch_and_numpy():
    import numpy as np

    seed_everything(3)
    a, x = torch.rand(4), np.random.rand(2)
    seed_everything(3)
    assert torch.equal(a, torch.rand(4)) and np.array_equal(x, np.random.rand(2))


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(bad)


def test_get_device_env_override(monkeypatch):
    monkeypatch.setenv("FTRAG_DEVICE", "cpu")
    assert get_device() == "cpu"
    monkeypatch.setenv("FTRAG_DEVICE", "gpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'.*FTRAG_DEVICE"):
        get_device()


def test_get_device_unknown_string_says_what_to_choose():
    with pytest.raises(ValueError, match="choose one of: cpu, cuda, mps"):
        get_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_get_device_cuda_without_gpu_says_how_to_get_one():
    with pytest.raises(ValueError, match="no CUDA GPU.*Colab"):
        get_device("cuda")


def test_data_dir_found_from_tests_and_notebook_folders(monkeypatch):
    root = data_dir().parent
    for sub in ("tests", "notebooks", "labs", "solutions"):
        monkeypatch.chdir(root / sub)
        assert data_dir() == root / "data"


def test_data_dir_found_from_outside_the_repo(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # falls back to the folder beside the (editable) package
    assert (data_dir() / ".ftrag-data").is_file()


def test_data_path_missing_file_says_what_to_do():
    with pytest.raises(FileNotFoundError, match=r"no_such\.jsonl is not in the course data.*python -m ftrag\.world"):
        data_path("no_such.jsonl")
    assert data_path("no_such.jsonl", must_exist=False).name == "no_such.jsonl"
    with pytest.raises(ValueError, match="at least one path part"):
        data_path()


def test_data_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("FTRAG_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.setenv("FTRAG_DATA", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="FTRAG_DATA=.*is not a folder"):
        data_dir()


def test_environment_report_verdict():
    report = environment_report()
    assert report.ok, report.problems
    assert "Verdict: ready" in str(report)
    assert not environment_report(min_memory_gb=1e6).ok


def test_check_failed_renders_as_one_message():
    with pytest.raises(CheckFailed) as info:
        expect_equal(3, 4, "the answer", hint="add one")
    assert info.value._render_traceback_() == ["\u274c the answer: expected 4, got 3. Hint: add one"]


def test_call_solution_turns_stub_and_crash_into_messages():
    def stub():
        raise NotImplementedError

    def crash(x):
        return 1 / x

    with pytest.raises(CheckFailed, match="still raises NotImplementedError"):
        call_solution(stub)
    with pytest.raises(CheckFailed, match=r"crash\(0\)` raised ZeroDivisionError"):
        call_solution(crash, 0)
    with pytest.raises(CheckFailed, match="should be a function"):
        call_solution(42, name="f")
    with pytest.raises(CheckFailed, match="still `...`"):
        expect_filled(..., "answer")
    with pytest.raises(CheckFailed, match="expected about 1"):
        expect_close(1.1, 1.0, "ratio")
    expect_close(1.00001, 1.0, "ratio")


def test_strip_solution_blocks_and_one_liners():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    y = x\n    return y\n    ### END SOLUTION\nk = 3  # SOLUTION\n"
    lab = strip_solution(source)
    assert "return y" not in lab and "k = 3" not in lab
    assert '    raise NotImplementedError("replace this line with your code")' in lab
    assert "k = ...  # YOUR ANSWER HERE" in lab


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "must sit inside a function"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", "without ### END"),
    ("def f():\n    ### END SOLUTION", "without ### BEGIN"),
    ("print(1)  # SOLUTION", "only assignments"),
])
def test_strip_solution_rejects_unusable_markers(source, message):
    with pytest.raises(LabSyntaxError, match=message):
        strip_solution(source)


def test_the_top_p_check_rejects_a_sampler_that_returns_the_argmax():
    """Lab 01: top-p must sample from the whole nucleus; returning the most likely token passes the top_p=0.5 case."""
    import torch

    from ftrag.check.l01 import check_sample_next_token

    def argmax_below_one(logits, temperature, top_p, generator):
        if top_p < 1:
            return int(logits.argmax())
        return int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator))

    with pytest.raises(CheckFailed, match="top_p=0.9"):
        check_sample_next_token(argmax_below_one)


def test_the_missing_chars_check_rejects_repeats_and_a_wrong_order():
    """Lab 00: the characters come back once each, in the alphabet's order."""
    from ftrag.check.l00 import check_missing_chars

    with pytest.raises(CheckFailed, match="missing_chars"):
        check_missing_chars(lambda text, alphabet: [c for c in alphabet if c not in text])  # keeps repeats
    with pytest.raises(CheckFailed, match="missing_chars"):
        check_missing_chars(lambda text, alphabet: sorted(set(alphabet) - set(text)))  # loses the order


def test_the_draw_counts_check_rejects_a_fresh_generator_per_draw_and_a_dropped_temperature():
    """Lab 01: the counts must come from one seeded generator and pass the temperature on."""
    import torch

    from ftrag.check.l01 import check_draw_counts

    def sample(logits, temperature, top_p, generator):
        return int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator))

    def fresh_generator(logits, temperature, top_p, n, seed):
        counts = [0] * len(logits)
        for _ in range(n):
            counts[sample(logits, temperature, top_p, torch.Generator().manual_seed(seed))] += 1
        return counts

    def at_temperature_one(logits, temperature, top_p, n, seed):
        gen, counts = torch.Generator().manual_seed(seed), [0] * len(logits)
        for _ in range(n):
            counts[sample(logits, 1.0, top_p, gen)] += 1
        return counts

    with pytest.raises(CheckFailed, match="ONE generator"):
        check_draw_counts(fresh_generator, sample)
    with pytest.raises(CheckFailed, match="pass the temperature on"):
        check_draw_counts(at_temperature_one, sample)


@pytest.mark.slow  # loads the course model
def test_the_token_losses_check_rejects_an_unshifted_loss():
    """Lab 01: position t predicts token t + 1."""
    import torch.nn.functional as F

    from ftrag.check.l01 import check_token_losses

    def unshifted(model, ids):
        return F.cross_entropy(model(ids).logits[0, 1:], ids[0, 1:], reduction="none").detach()

    with pytest.raises(CheckFailed, match="position t predicts token t"):
        check_token_losses(unshifted)


def test_scoring_batches_bound_the_logits_they_hold():
    """The course model's rows (at most 512 tokens, 4,096-token vocabulary) always come ``batch_size`` to a batch,
    as the reference outputs were made; a real model's 49,152-token vocabulary gets fewer rows per batch."""
    from ftrag.lm.scoring import LOGITS_PER_BATCH, _nll_batches

    rows = [[0] * 512] * 70
    assert _nll_batches(range(70), rows, 32, 4096) == [list(range(32)), list(range(32, 64)), list(range(64, 70))]
    assert [len(b) for b in _nll_batches(range(10), [[0] * 300] * 10, 32, 49152)] == [4, 4, 2]
    assert _nll_batches([0, 1], [[0] * 10, [0] * (LOGITS_PER_BATCH // 4096 + 1)], 32, 4096) == [[0], [1]]


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's; elsewhere release_memory only collects cycles")
def test_release_memory_gives_freed_pages_back():
    """Tensors freed between live ones leave holes in the heap that glibc keeps resident; release_memory trims them
    (what a training run leaves behind in a notebook's kernel). Measured in a fresh process: in a test worker that
    ran other tests first, the new tensors may fill holes that were resident already, and less comes back."""
    import subprocess
    import sys

    code = """
import gc, psutil, torch
from ftrag.env import release_memory
process, keep, freed = psutil.Process(), [], []
for _ in range(2000):
    freed.append(torch.ones(25_000))  # 100 KB each, under glibc's mmap threshold: from the heap
    keep.append(torch.ones(10))  # a live neighbour, so the holes are not at the heap's top
del freed
gc.collect()
before = process.memory_info().rss
release_memory()
print(before - process.memory_info().rss, len(keep))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    released, kept = (int(v) for v in done.stdout.split())
    assert released > 100e6, f"about 200 MB freed by Python should leave the process, {released / 1e6:.0f} MB did"
    assert kept == 2000
