"""Which diagnostic left its normal range first, on hand-made metric rows."""

import math

from ablations.study.departures import first_departure, normal_ranges, probe_values


def rows(logits: list[float], log_z: list[float], residual: list[float], grad: list[float]) -> list[dict]:
    return [{"step": s + 1, "diag/attn_logit_max": a, "diag/log_z_max": z, "diag/log_z_min": z - 1, "diag/residual_rms/layer_00": r / 2,
             "diag/residual_rms/layer_01": r, "train/grad_norm": g} for s, (a, z, r, g) in enumerate(zip(logits, log_z, residual, grad, strict=True))]


FINISHED = [rows([5, 6, 7], [7.0, 7.1, 7.2], [1, 2, 3], [1, 1, 1]), rows([4, 8, 9], [7.1, 7.3, 7.0], [1, 2, 4], [2, 2, 2])]


def test_the_residual_stream_leaves_first_when_it_grows_before_the_logits():
    ranges = normal_ranges(FINISHED)
    assert ranges[2]["attn_logit_max"] == (6, 8) and ranges[3]["residual_rms_max"] == (3, 4)
    collapsed = rows([5, 7, 50], [7.0, 7.2, 9.0], [1, 9, 100], [1, 2, math.nan])
    first = first_departure(collapsed, ranges)
    assert first == {"diagnostic": "residual_rms_max", "step": 2, "value": 9, "normal_range": [2, 2], "also": []}
    # at step 3 several leave at once: the furthest out, in widths of its range, is named first; NaN beats every value
    late = rows([5, 7, 50], [7.0, 7.2, 9.0], [1, 2, 100], [1, 2, math.nan])
    assert first_departure(late, ranges)["diagnostic"] == "grad_norm"
    assert first_departure(late, ranges)["also"] == ["attn_logit_max", "log_z_max", "log_z_min", "residual_rms_max"]


def test_a_run_inside_every_range_has_no_departure_and_residual_rms_is_the_max_over_blocks():
    assert first_departure(FINISHED[0], normal_ranges(FINISHED)) is None
    assert probe_values(FINISHED[0][2])["residual_rms_max"] == 3
    assert first_departure(rows([100], [7.0], [1], [1]), {}) is None  # no finished run probed there: nothing to compare
