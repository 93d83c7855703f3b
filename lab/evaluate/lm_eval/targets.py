"""What ``python -m lab.evaluate.lm_eval <source>`` evaluates, and how each model is loaded (through the suite's own loaders).

- a sweep or study folder (a folder kind with ``members``): every run that finished, each one a target;
- a folder of a kind that loads its own model (a gate run: its base model masked on the fly with ``mode`` /
  ``threshold``, no model written);
- an ablation stage folder (``metadata.json`` with a variant): ``lab.model.load_artifact``, patched norms
  included;
- a Hugging Face model folder (``config.json``, e.g. an applied gate model) or a hub id: the stock Qwen3.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lab.config.errors import UserError
from lab.model import build_model, check_pretrained_source, load_artifact, load_tokenizer, saved_variant
from lab.model.variants import Variant
from lab.runs.artifacts import read_json
from lab.runs.folder_kinds import kind_of


@dataclass
class Target:
    name: str                       # the run's name in a sweep's table, else the folder's or hub id's
    folder: Path | None             # where results go (None: a hub id, see results_folder)
    load: Callable[[], tuple[Any, Any]]
    setting: str | None = None      # a gate run's mode and threshold, e.g. "hard-0.478"


def _stage_tokenizer(folder: Path):
    """A stage's own tokenizer files, else (a base stage saves none) the tokenizer its run was configured with."""
    if (folder / "tokenizer_config.json").is_file():
        return load_tokenizer({"tokenizer": str(folder)})
    return load_tokenizer(read_json(folder / "metadata.json")["config"]["model"])


def load_stage(folder: Path) -> tuple[Any, Any]:
    return load_artifact(folder), _stage_tokenizer(folder)


def load_hf(source: str) -> tuple[Any, Any]:
    """A plain Qwen3 checkpoint (folder or hub id) as training loads it, in eval mode."""
    cfg = {"pretrained": source, "init": "pretrained", "tokenizer": source}
    tokenizer = load_tokenizer(cfg)
    return build_model(cfg, Variant(name="original"), vocab_size=len(tokenizer)).eval(), tokenizer


def folder_target(folder: Path, name: str, options: Any) -> Target:
    """One folder's target (not a sweep)."""
    kind = kind_of(folder)
    if kind is not None and kind.load_model is not None:
        setting = kind.setting(options) if kind.setting is not None else None
        return Target(name, folder, lambda: kind.load_model(folder, options), setting=setting)
    if saved_variant(folder) is not None and (folder / "config.json").is_file():
        return Target(name, folder, lambda: load_stage(folder))
    if (folder / "config.json").is_file():
        return Target(name, folder, lambda: load_hf(str(folder)))
    raise UserError(f"{folder} is none of the folders this suite writes and not a Hugging Face model folder (no config.json); "
                    "pass an ablation run or sweep, a gate run, an applied gate model, a model folder or a hub id")


def targets(source: str, options: Any) -> tuple[list[Target], Path | None]:
    """``(targets, sweep folder or None)`` of ``source`` (see the module docstring)."""
    path = Path(source).expanduser()
    if path.is_dir():
        path = path.resolve()
        kind = kind_of(path)
        if kind is not None and kind.members is not None:
            runs = kind.members(path)
            if not runs:
                raise UserError(f"{path} holds no finished run to evaluate")
            return [folder_target(folder, name, options) for name, folder in runs.items()], path
        return [folder_target(path, path.name, options)], None
    check_pretrained_source(source)  # a path that does not exist is refused here; what is left is a hub id
    return [Target(source, None, lambda: load_hf(source))], None


def place(model: torch.nn.Module, device: str, dtype: str) -> tuple[torch.nn.Module, str]:
    """``model`` in eval mode on ``device`` (``auto``: cuda if available) in ``dtype`` (``auto``: bf16 on GPU, fp32 on CPU)."""
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    if not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise UserError(f"dtype={dtype!r}; valid: auto, float32, bfloat16, float16")
    return model.to(device=device, dtype=getattr(torch, dtype)).eval(), device
