"""The shared checks of user-given numbers (`nlpseq.checks`)."""

import numpy as np
import pytest

from nlpseq.checks import check_rate, is_whole_number
from nlpseq.errors import ConfigError


@pytest.mark.parametrize("value,minimum,expected", [
    (1, 1, True), (np.int64(3), 1, True), (0, 0, True),
    (0, 1, False), (-1, 0, False), (True, 1, False), (2.0, 1, False), ("3", 1, False), (None, 1, False),
    (-5, None, True), (True, None, False), (2.5, None, False),
])
def test_whole_numbers_are_integers_but_not_bools(value, minimum, expected):
    assert is_whole_number(value, minimum) is expected


def test_rates_are_returned_as_floats_and_named_when_refused():
    assert check_rate("dropout", 0) == 0.0 and isinstance(check_rate("dropout", 0), float)
    with pytest.raises(ConfigError, match=r"^output_dropout must be in \[0, 1\), got 1$"):
        check_rate("output_dropout", 1)
