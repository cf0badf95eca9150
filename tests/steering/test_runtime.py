"""The tile mapping both runners read: the option, else the organism's row; never a default."""

from __future__ import annotations

import pytest

from welfare.config import load_params
from welfare.io import InputError
from welfare.steering.runtime import resolve_mapping

PARAMS = load_params()


def test_mapping_option_wins_over_the_organism_row():
    assert resolve_mapping(PARAMS, "office_swap", "office") == "office"
    assert resolve_mapping(PARAMS, "office_swap", None) == "office_swap"
    assert resolve_mapping(PARAMS, None, "office_dividers") == "office_dividers"


@pytest.mark.parametrize(
    ("organism", "mapping", "message"),
    [
        (None, None, "no tile mapping"),
        ("nosuch", None, "--organism 'nosuch'"),
        (None, "nosuch", "mapping 'nosuch'"),
        ("reinforce", "nosuch", "mapping 'nosuch'"),
    ],
)
def test_a_missing_or_unknown_mapping_is_a_one_line_error(organism, mapping, message):
    with pytest.raises(InputError) as err:
        resolve_mapping(PARAMS, organism, mapping)
    assert message in str(err.value) and "\n" not in str(err.value)
