"""What an upload holds, planned and then staged: every file of a folder kind's layout (:attr:`FolderKind.layout`) at
its path in the repo, an ablation's stages filtered, Lightning checkpoints only when asked, and the weights
(``model.safetensors``, ``model.pt``) in the asked dtype.

A converted weights file is written into the staging folder (floating-point tensors cast, the others as they are)
and its folder gets a fresh ``SHA256SUMS``, so ``sha256sum -c`` holds on the Hub copy too; every other file is
hard-linked (copied across file systems). A dry run plans without staging: a converted file's size is then
estimated from its dtypes (fp32 → bf16 halves each floating tensor).
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from lab.runs.artifacts import read_json
from lab.runs.checksums import SUMS_FILE, artifact_files, write_sha256sums

WEIGHT_FILES = ("model.safetensors", "model.pt")


@dataclass(frozen=True)
class Planned:
    """One file of the upload: its path in the repo, where it comes from, its size in bytes (estimated when it is to be
    converted), and the dtype it is converted to (None: as it is)."""

    path_in_repo: str
    source: Path
    size: int
    convert_to: str | None = None


def plan_upload(layout: dict[str, Path], stages: list[str], dtype: str | None, checkpoints: bool) -> list[Planned]:
    """Every file the upload holds (module docstring), in repo order."""
    planned: list[Planned] = []
    for prefix, source in layout.items():
        if source.is_file():
            planned.append(Planned(prefix, source, source.stat().st_size))
            continue
        stage = read_json(source / "metadata.json").get("stage") if (source / "metadata.json").is_file() else None
        if stage in ("base", "finetuned") and stage not in stages:
            continue
        files = [*artifact_files(source), *([source / SUMS_FILE] if (source / SUMS_FILE).is_file() else [])]
        if checkpoints:
            files += sorted((source / "checkpoints").glob("*.ckpt"))
        for path in files:
            convert = dtype if path.name in WEIGHT_FILES and dtype is not None else None
            size = converted_size(path, dtype) if convert else path.stat().st_size
            planned.append(Planned(str(Path(prefix) / path.relative_to(source)), path, size, convert))
    return sorted(planned, key=lambda p: p.path_in_repo)


def converted_size(path: Path, dtype: str) -> int:
    """The size of weights file ``path`` with its floating tensors in ``dtype``: exact payload, header as it is (read
    from the header or a memory map, no tensor loaded)."""
    itemsize = torch.empty((), dtype=getattr(torch, dtype)).element_size()
    total = path.stat().st_size
    for stored, numel in tensor_sizes(path):
        if stored.is_floating_point:
            total += numel * (itemsize - stored.itemsize)
    return total


def tensor_sizes(path: Path) -> list[tuple[torch.dtype, int]]:
    """(dtype, element count) of every tensor of a weights file."""
    if path.suffix != ".safetensors":
        return [(t.dtype, t.numel()) for t in torch.load(path, map_location="cpu", weights_only=True, mmap=True).values()]
    names = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64,
             "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
    with safe_open(str(path), framework="pt") as f:
        slices = [f.get_slice(k) for k in f.keys()]
        return [(names[s.get_dtype()], int(torch.Size(s.get_shape()).numel())) for s in slices]


def weight_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a weights file (``model.safetensors`` or a ``weights_only`` state dict)."""
    if path.suffix == ".safetensors":
        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def stage(planned: list[Planned], into: Path) -> Path:
    """Write the planned files under ``into`` (module docstring); returns ``into``."""
    reseal: set[Path] = set()
    for item in planned:
        target = into / item.path_in_repo
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.convert_to is None:
            link_or_copy(item.source, target)
            continue
        dtype = getattr(torch, item.convert_to)
        tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in weight_tensors(item.source).items()}
        if target.suffix == ".safetensors":
            save_file(tensors, str(target), metadata={"format": "pt"})
        else:
            torch.save(tensors, target)
        reseal.add(target.parent)
    for folder in reseal:
        (folder / SUMS_FILE).unlink(missing_ok=True)  # a link to the original's: never written through
        write_sha256sums(folder)
    return into


def link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
