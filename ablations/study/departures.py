"""Which diagnostic left its normal range first, in a run that collapsed.

A collapsed run's probes (``train_metrics.json`` rows, every step through ``diagnostics.dense_steps``) are
compared with the runs of the same regime and factors that finished ``ok`` (every variant, every learning
rate): for a diagnostic d and a probe step t, its **normal range** is

    [min, max] of d at step t over those finished runs

and the run **leaves** it at the first probed step t where its own d lies outside. The first diagnostic to
leave (the earliest t; at a tie, the one furthest out, measured in widths of the range) is the run's
``first_departure``, reported with its step, value and the range. The diagnostics (:data:`DIAGNOSTICS`):
the largest attention logit, the extremes of the output log Z, the largest residual-stream RMS over blocks,
and the gradient norm. A run with no probe inside any range's support (no finished run probed that step) has
no departure.
"""

from typing import Any

DIAGNOSTICS = {
    "attn_logit_max": "diag/attn_logit_max",
    "log_z_max": "diag/log_z_max",
    "log_z_min": "diag/log_z_min",
    "residual_rms_max": "diag/residual_rms/",
    "grad_norm": "train/grad_norm",
}


def probe_values(row: dict[str, float]) -> dict[str, float]:
    """``{diagnostic: value}`` of one metrics row (the residual RMS as the max over the row's blocks)."""
    values = {}
    for name, key in DIAGNOSTICS.items():
        if key.endswith("/"):
            per_block = [v for k, v in row.items() if k.startswith(key)]
            if per_block:
                values[name] = max(per_block)
        elif key in row:
            values[name] = row[key]
    return values


def probes(rows: list[dict[str, float]]) -> dict[int, dict[str, float]]:
    """``{step: {diagnostic: value}}`` of the rows holding a probe (an attention-logit measurement)."""
    return {int(row["step"]): probe_values(row) for row in rows if "diag/attn_logit_max" in row}


def normal_ranges(finished: list[list[dict[str, float]]]) -> dict[int, dict[str, tuple[float, float]]]:
    """``{step: {diagnostic: (min, max)}}`` over the finished runs' probes."""
    ranges: dict[int, dict[str, tuple[float, float]]] = {}
    for rows in finished:
        for step, values in probes(rows).items():
            at = ranges.setdefault(step, {})
            for name, value in values.items():
                low, high = at.get(name, (value, value))
                at[name] = (min(low, value), max(high, value))
    return ranges


def _excess(value: float, low: float, high: float) -> float:
    """How far outside [low, high] a value lies, in widths of the range (at least a unit width)."""
    width = max(high - low, 1e-12 + 1e-6 * max(abs(low), abs(high)))
    return (low - value) / width if value < low else (value - high) / width if value > high else 0.0


def first_departure(rows: list[dict[str, float]], ranges: dict[int, dict[str, tuple[float, float]]]) -> dict[str, Any] | None:
    """The first diagnostic of a run's ``rows`` to leave its normal range (see the module docstring), or None."""
    for step, values in sorted(probes(rows).items()):
        out = []
        for name, value in values.items():
            if name in ranges.get(step, {}):
                low, high = ranges[step][name]
                if value != value or _excess(value, low, high) > 0:  # NaN is out of every range
                    out.append((float("inf") if value != value else _excess(value, low, high), name, value, low, high))
        if out:
            excess, name, value, low, high = max(out)
            return {"diagnostic": name, "step": step, "value": value, "normal_range": [low, high],
                    "also": sorted(n for _, n, *_ in out if n != name)}
    return None
