"""``python -m lab.dev.synthetic <shape> <out>``: a random Qwen3 checkpoint of a real model's exact shape, written locally.

    python -m lab.dev.synthetic qwen3-0.6b runs/synthetic/qwen3-0.6b                 # 28 layers, 151,936 vocabulary
    python -m lab.dev.synthetic qwen3-8b runs/synthetic/qwen3-8b-2l --layers 2       # Qwen3-8B widths, 2 layers

Real-width paths are tested on these instead of downloads. The folder is what ``from_pretrained`` and the
vindex read: ``config.json`` (the shape's bundled config, ``lab/config/assets/configs/<shape>``, with ``--layers`` /
``--vocab`` applied), one safetensors shard per decoder layer plus one for the embeddings, final norm and
untied head, ``model.safetensors.index.json``, and the bundled tiny tokenizer (its 1,696 ids fit in any
vocabulary; the embedding keeps the shape's rows).

Weights are N(0, σ²) with σ = ``initializer_range`` (0.02), as ``Qwen3PreTrainedModel`` initialises them, norm
weights 1. The FFN's gate and down projections get the decaying spectrum of trained layers: their hidden-side
axis i is scaled by i^-1/2, renormalised to keep the RMS at σ, so an SVD of them has a spectrum to find.
Tensors are drawn and written one layer at a time: memory stays at one layer, or the embedding.
"""

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import Qwen3Config, Qwen3ForCausalLM

from lab.config import asset_path
from lab.config.errors import UserError, exit_on_user_error

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def shapes() -> list[str]:
    """The bundled shapes (``lab/config/assets/configs/<name>/config.json``)."""
    return sorted(p.name for p in Path(asset_path("configs")).iterdir() if (p / "config.json").is_file())


def shape_config(shape: str, layers: int | None = None, vocab: int | None = None) -> Qwen3Config:
    """The bundled config of ``shape`` with the layer count and vocabulary optionally replaced."""
    if shape not in shapes():
        raise UserError(f"unknown shape {shape!r}; valid: {', '.join(shapes())}")
    config = Qwen3Config.from_json_file(str(Path(asset_path("configs")) / shape / "config.json"))
    if layers is not None:
        if layers < 1:
            raise UserError(f"--layers {layers}: a checkpoint needs at least one layer")
        config.num_hidden_layers = config.max_window_layers = layers
        config.layer_types = config.layer_types[:layers] if getattr(config, "layer_types", None) else None
    if vocab is not None:
        config.vocab_size = vocab
    return config


def _draw(name: str, shape: torch.Size, std: float, generator: torch.Generator) -> torch.Tensor:
    if name.endswith("norm.weight"):
        return torch.ones(shape)
    weight = torch.randn(shape, generator=generator) * std
    if name.endswith(("mlp.gate_proj.weight", "mlp.down_proj.weight")):
        hidden_axis = 1 if name.endswith("gate_proj.weight") else 0
        decay = torch.arange(1, shape[hidden_axis] + 1, dtype=torch.float32) ** -0.5
        decay /= decay.pow(2).mean().sqrt()
        weight *= decay if hidden_axis == 1 else decay[:, None]
    return weight


def write_checkpoint(out: str | Path, shape: str, layers: int | None = None, vocab: int | None = None,
                     dtype: str = "bfloat16", seed: int = 0) -> dict[str, Any]:
    """Write the random checkpoint into ``out``; returns its parameter count, bytes and files."""
    if dtype not in DTYPES:
        raise UserError(f"dtype={dtype!r}; valid: {', '.join(DTYPES)}")
    config = shape_config(shape, layers, vocab)
    config.dtype = dtype
    with torch.device("meta"):
        names = {name: p.shape for name, p in Qwen3ForCausalLM(config).state_dict().items()}
    if config.tie_word_embeddings:
        names.pop("lm_head.weight", None)
    groups: list[list[str]] = [[n for n in names if n.startswith(f"model.layers.{i}.")] for i in range(config.num_hidden_layers)]
    groups.append([n for n in names if not n.startswith("model.layers.")])
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    weight_map, total = {}, 0
    for index, group in enumerate(groups):
        shard = f"model-{index + 1:05d}-of-{len(groups):05d}.safetensors"
        tensors = {n: _draw(n, names[n], config.initializer_range, generator).to(DTYPES[dtype]) for n in group}
        save_file(tensors, str(folder / shard), metadata={"format": "pt"})
        total += sum(t.numel() * t.element_size() for t in tensors.values())
        weight_map.update(dict.fromkeys(group, shard))
        del tensors
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    config.to_json_file(str(folder / "config.json"))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(asset_path(f"tiny_tokenizer/{name}"), folder)
    params = sum(torch.Size(s).numel() for s in names.values())
    return {"folder": str(folder), "shape": shape, "layers": config.num_hidden_layers, "vocab": config.vocab_size,
            "params": params, "bytes": total, "dtype": dtype, "shards": len(groups)}


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.dev.synthetic", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("shape", help=f"one of: {', '.join(shapes())}")
    parser.add_argument("out", help="the folder to write (refused if it holds files, unless --overwrite)")
    parser.add_argument("--layers", type=int, default=None, help="decoder layers (default: the shape's)")
    parser.add_argument("--vocab", type=int, default=None, help="vocabulary rows (default: the shape's)")
    parser.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise UserError(f"{out} is not empty; pass --overwrite to replace it")
    if out.exists() and args.overwrite:
        shutil.rmtree(out)
    info = write_checkpoint(out, args.shape, args.layers, args.vocab, args.dtype, args.seed)
    print(f"{info['shape']}: {info['layers']} layers, vocabulary {info['vocab']:,}, {info['params'] / 1e9:.3g} B parameters, "
          f"{info['bytes'] / 2**30:.2f} GiB {info['dtype']} in {info['shards']} shards -> {info['folder']}")


if __name__ == "__main__":
    main()
