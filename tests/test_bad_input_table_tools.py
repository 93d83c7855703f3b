"""The bad-input table's cases of the tools' commands (vindex, gates, lab), in a file of their own: ``make test``'s
two pytest-xdist workers take a file each (``--dist loadfile``), so the table is shared between them."""

import pytest

from tests.test_bad_input_table import TOOL_CASES, build_inputs, check_case

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inputs(quick_reference, tmp_path_factory) -> dict[str, str]:
    return build_inputs(quick_reference, tmp_path_factory)


@pytest.mark.parametrize("case", TOOL_CASES)
def test_each_wrong_tool_input_gets_one_clear_message_exit_2_and_damages_nothing(case, inputs, capfd, monkeypatch, tmp_path):
    check_case(case, inputs, capfd, monkeypatch, tmp_path)
