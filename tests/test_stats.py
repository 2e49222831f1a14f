"""The bootstrap intervals lesson 05 puts on its headline numbers."""

import pytest

from ftrag import stats


def test_interval_brackets_the_rate_and_narrows_with_more_questions():
    rate, low, high = stats.interval("1100" * 25)
    assert rate == 0.5 and low < 0.5 < high and 0.15 < high - low < 0.25  # ~ 2 x 1.96 x sqrt(.25 / 100)
    _, low_big, high_big = stats.interval("1100" * 250)
    assert high_big - low_big < (high - low) / 2
    assert stats.interval("1111") == (1.0, 1.0, 1.0) and stats.interval([0, 0, 1], seed=1) == \
        stats.interval([0, 0, 1], seed=1)


def test_paired_difference_is_tighter_than_two_intervals():
    a = "1" * 60 + "0" * 40
    b = "1" * 55 + "0" * 45  # b is a minus five questions: the same questions, strongly paired
    diff, low, high = stats.paired_difference(a, b)
    assert diff == pytest.approx(0.05) and 0 <= low < diff < high
    _, a_low, a_high = stats.interval(a)
    assert high - low < (a_high - a_low) / 1.5  # 0.09 wide against 0.18
    with pytest.raises(ValueError, match="same questions"):
        stats.paired_difference(a, b[:10])


def test_bad_hits_are_refused():
    with pytest.raises(ValueError, match="only '0' and '1'"):
        stats.interval("01x")
    with pytest.raises(ValueError, match="at least one"):
        stats.interval("")
    assert stats.shown((0.5, 0.25, 0.75)) == "0.500 [0.250, 0.750]"
