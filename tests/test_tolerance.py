"""nbval compares text and integers exactly and measured floats by value (tests/nbval_tolerance.py)."""

import nbformat
import pytest

from tests.nbval_tolerance import Tolerance, reconcile, reconcile_outputs, tolerance_of

DEFAULT = Tolerance()


@pytest.mark.parametrize("ref, test", [
    ("perplexity 5,640.2 on World A", "perplexity 5,640.1 on World A"),  # last printed digit
    ("loss 11.396", "loss 11.397"),
    ("ppl 812.4", "ppl 812.9"),  # 0.06% < 0.1%
    ("share 1.2e-05", "share 1.2e-05"),
])
def test_default_tolerance_accepts_the_last_digits_of_a_measurement(ref, test):
    assert reconcile(ref, test, DEFAULT) == ref


@pytest.mark.parametrize("ref, test", [
    ("field EM 0.996", "field EM 0.931"),  # a real difference
    ("EM 0.640", "EM 0.635"),  # one greedy answer in 200 is not a rounding: the cell must say it allows that
    ("ppl 812.4", "ppl 814.0"),  # 0.2%
    ("197 of 200 parse", "196 of 200 parse"),  # integers are exact
    ("answer: Varno", "answer: Vamo"),  # text is exact
    ("loss 9.29 at step 1", "loss 9.29 at step 2"),
])
def test_what_the_default_does_not_accept(ref, test):
    assert reconcile(ref, test, DEFAULT) != ref


def test_a_cell_states_its_tolerance_and_why():
    cell = "# NBVAL_TOLERANCE 0.01: exact-match rates over 200 questions may move by two answers\nprint(em)"
    tolerance = tolerance_of(cell)
    assert tolerance == Tolerance(absolute=0.01)
    assert reconcile("EM 0.640 0.655", "EM 0.635 0.660", tolerance) == "EM 0.640 0.655"
    assert reconcile("EM 0.640", "EM 0.620", tolerance) == "EM 0.620"
    assert tolerance_of("# NBVAL_TOLERANCE 2%: a loss after 30 steps\n") == Tolerance(relative=0.02)
    assert tolerance_of("print(1)") == DEFAULT
    with pytest.raises(ValueError, match="why"):
        tolerance_of("# NBVAL_TOLERANCE 0.01\n")  # a tolerance without its reason


def test_outputs_are_paired_by_kind_so_a_warning_does_not_shift_them():
    ref = [nbformat.v4.new_output("stream", name="stdout", text="EM 0.640\n"),
           nbformat.v4.new_output("execute_result", data={"text/plain": "0.50"}, execution_count=1)]
    test = [nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
            nbformat.v4.new_output("stream", name="stdout", text="EM 0.645\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "0.51"}, execution_count=1)]
    out = reconcile_outputs(ref, test, Tolerance(absolute=0.01))
    assert [o.get("text") for o in out[:2]] == ["a warning\n", "EM 0.640\n"]
    assert out[2]["data"]["text/plain"] == "0.50" and out[2].output_type == "execute_result"


def test_a_table_whose_columns_change_width_with_its_values():
    ref = "       parse  field_em\nLoRA   0.995     0.961\nQLoRA  0.94      0.931"
    near = "       parse  field_em\nLoRA   0.995     0.961\nQLoRA  0.945     0.931"
    far = "       parse  field_em\nLoRA   0.995     0.961\nQLoRA  1.000     0.996"
    assert reconcile(ref, near, Tolerance(absolute=0.01)) == ref
    assert reconcile(ref, far, Tolerance(absolute=0.01)) == far
    assert reconcile("3 of 4", "3  of 5", DEFAULT) == "3  of 5"  # the integer differs: no pass for the spaces


def test_a_column_of_times_is_sanitized_before_the_padding_is_compared():
    """A time that nbval's sanitizer replaces (tests/sanitize.cfg) can still widen its column: 28 s here, 112 s on a
    slower machine. Both become TIME first, so only the padding differs, and that may."""
    import re

    def sanitize(text):
        return re.sub(r"\b\d+(\.\d+)?\s?(s|ms|min)\b(?=[\s,.;)]|$)", "TIME", text)

    def table(time):
        return nbformat.v4.new_output("execute_result", data={"text/plain": f"      ppl training\nLoRA  7.2 {time}"},
                                      execution_count=1)

    ref, slow = [table("  28 s")], [table("112 s")]
    out = reconcile_outputs(ref, slow, DEFAULT, sanitize)
    assert out[0]["data"]["text/plain"] == "      ppl training\nLoRA  7.2   TIME"  # the reference's, sanitized
    assert reconcile_outputs(ref, [table("112 steps")], DEFAULT, sanitize)[0]["data"]["text/plain"] \
        == "      ppl training\nLoRA  7.2 112 steps"  # not a time: the text differs, and it is the test's


def test_the_sanitizers_parse_as_nbval_reads_them():
    """nbval reads ``regex: X`` and ``replace: Y`` line pairs (a ``replace:`` without its space is skipped): each
    section must come through, and the first-load line of the real model must vanish, not become a placeholder."""
    import re
    from pathlib import Path

    from nbval.plugin import get_sanitize_patterns

    text = (Path(__file__).parent / "sanitize.cfg").read_text()
    patterns = dict(get_sanitize_patterns(text))
    assert len(patterns) == text.count("\n["), "a sanitizer section that nbval does not read"
    printed = ("Building the smollm2 model once from SmolLM2-135M-Instruct.Q4_1.gguf (about 20-40 s, 1.6 GB of "
               "memory) into /tmp/cache/smollm2-0.1.2\na document: assert.txt\n")
    for regex, replace in patterns.items():
        printed = re.sub(regex, replace, printed)
    assert printed == "a document: assert.txt\n"
