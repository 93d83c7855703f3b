"""The seed's gate files, written and read back (whoever produced them).

- ``lambda_logits.pt``: ``{"module.model.layers.<i>.mlp.lambda_logits": Tensor[intermediate_size]}``
  (a plain state dict; ``torch.load(..., weights_only=True)`` loads it);
- ``neuron_indices.json``: ``{"<layer>": [neuron, ...]}``, neurons with g = sigmoid(λ) < 0.5;
- ``gate_stats.json``: :func:`gates.stats.gate_stats`;
- ``selected_thresholds.txt``: the five thresholds of ``gate_stats.json``, comma-separated.

Reading accepts any key prefix ending in ``layers.<i>.mlp.lambda_logits`` (the seed's card writes both
``module.model.layers...`` and ``model.module.model.layers...``) and refuses, with one line naming the
file, anything that is not one equal-length vector per consecutive layer.
"""

import json
import pickle
import re
from pathlib import Path

import torch

from gates.stats import DEFAULT_THRESHOLD, gate_stats, knowledge_neurons
from lab.config.errors import UserError
from lab.runs.artifacts import atomic_write, write_json
from lab.runs.checksums import check_if_summed

LOGITS_FILE = "lambda_logits.pt"
INDICES_FILE = "neuron_indices.json"
STATS_FILE = "gate_stats.json"
THRESHOLDS_FILE = "selected_thresholds.txt"
KEY_FORMAT = "module.model.layers.{}.mlp.lambda_logits"
_KEY = re.compile(r"(?:^|\.)layers\.(\d+)\.mlp\.lambda_logits$")


def logits_state_dict(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    return {KEY_FORMAT.format(i): row.detach().float().cpu().clone() for i, row in enumerate(logits)}


def write_gate_files(folder: Path, logits: torch.Tensor, default_threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Write the four seed files (each atomically) and return the gate statistics."""
    folder = Path(folder)
    gates = torch.sigmoid(logits.float())
    stats = gate_stats(gates, default_threshold)
    state = logits_state_dict(logits)
    atomic_write(folder / LOGITS_FILE, lambda tmp: torch.save(state, tmp))
    write_json(folder / INDICES_FILE, knowledge_neurons(gates, default_threshold))
    write_json(folder / STATS_FILE, stats)
    line = ",".join(repr(p["threshold"]) for p in stats["selected_thresholds"]) + "\n"
    atomic_write(folder / THRESHOLDS_FILE, lambda tmp: tmp.write_text(line))
    return stats


def _locate(path: Path, name: str) -> Path:
    path = Path(path).expanduser()
    file = path / name if path.is_dir() else path
    if not file.is_file():
        raise UserError(f"{file} not found; gates_dir must hold the seed's {name}")
    check_if_summed(file.parent, [file.name])  # our folders carry SHA256SUMS; the seed's do not
    return file


def read_lambda_logits(path: Path, shape: tuple[int, int] | None = None) -> torch.Tensor:
    """λ as [num_layers, intermediate_size] from ``lambda_logits.pt`` (a file or its folder); checked against ``shape``."""
    file = _locate(path, LOGITS_FILE)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        raise UserError(f"{file} is not a loadable tensor state dict ({str(err).splitlines()[0][:120]})") from None
    if not isinstance(state, dict):
        raise UserError(f"{file} holds a {type(state).__name__}, not a state dict of lambda_logits")
    rows: dict[int, torch.Tensor] = {}
    for key, value in state.items():
        match = _KEY.search(str(key))
        if match is None or not isinstance(value, torch.Tensor) or value.ndim != 1:
            raise UserError(f"{file}: entry {key!r} is not a 1-D layers.<i>.mlp.lambda_logits tensor")
        rows[int(match.group(1))] = value.float()
    if not rows or sorted(rows) != list(range(len(rows))):
        raise UserError(f"{file}: layers {sorted(rows)} are not 0..N-1")
    widths = {v.numel() for v in rows.values()}
    if len(widths) != 1:
        raise UserError(f"{file}: layers have different neuron counts {sorted(widths)}")
    logits = torch.stack([rows[i] for i in range(len(rows))])
    if shape is not None and tuple(logits.shape) != tuple(shape):
        raise UserError(f"{file} has {logits.shape[0]} layers x {logits.shape[1]} neurons, but the model has "
                        f"{shape[0]} layers x {shape[1]} neurons: these gates belong to another model")
    return logits


def read_neuron_indices(path: Path, shape: tuple[int, int] | None = None) -> dict[int, list[int]]:
    """``neuron_indices.json`` as ``{layer: [neuron, ...]}``, every index checked against ``shape``."""
    file = _locate(path, INDICES_FILE)
    try:
        raw = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{file} is not valid JSON ({err})") from None
    if not isinstance(raw, dict):
        raise UserError(f'{file} must be an object {{"<layer>": [neuron, ...]}}, got {type(raw).__name__}')
    indices: dict[int, list[int]] = {}
    for key, value in raw.items():
        if not str(key).isdigit() or not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
            raise UserError(f'{file}: entry {key!r} is not "<layer>": [neuron indices]')
        layer = int(key)
        if shape is not None and (layer >= shape[0] or any(n < 0 or n >= shape[1] for n in value)):
            raise UserError(f"{file}: layer {layer} / its neuron indices fall outside the model's {shape[0]} x {shape[1]} neurons")
        indices[layer] = value
    return indices


def read_gate_stats(path: Path) -> dict:
    file = _locate(path, STATS_FILE)
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{file} is not valid JSON ({err})") from None
