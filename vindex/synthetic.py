"""A Qwen3-shaped safetensors checkpoint of random weights, to try the vindex build at any scale offline.

FFN matrices get a decaying singular spectrum (columns scaled by i^-0.5, as trained layers decay), the
tokenizer is the bundled tiny one (so ``vocab`` should stay at its size), one shard per layer as real
checkpoints are sharded. Attention carries only the tensors the build reads past.
"""

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from lab.config import asset_path


def write_synthetic_checkpoint(folder: Path, hidden: int, intermediate: int, layers: int, vocab: int = 1696,
                               dtype: torch.dtype = torch.bfloat16, seed: int = 0) -> int:
    """Write ``config.json``, ``tokenizer.json`` and the shards into ``folder``; returns the layers' bytes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": hidden, "intermediate_size": intermediate,
              "num_hidden_layers": layers, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
              "vocab_size": vocab, "rope_theta": 1000000.0, "tie_word_embeddings": False,
              "torch_dtype": str(dtype).removeprefix("torch.")}
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copy(asset_path("tiny_tokenizer/tokenizer.json"), folder)
    g = torch.Generator().manual_seed(seed)
    decay = torch.arange(1, hidden + 1, dtype=torch.float32) ** -0.5
    shard_bytes = 0
    for layer in range(layers):
        p = f"model.layers.{layer}."
        tensors = {
            p + "mlp.gate_proj.weight": (torch.randn(intermediate, hidden, generator=g) * decay).to(dtype),
            p + "mlp.up_proj.weight": torch.randn(intermediate, hidden, generator=g).to(dtype),
            p + "mlp.down_proj.weight": (torch.randn(hidden, intermediate, generator=g) * decay[:, None]).to(dtype),
            p + "self_attn.q_proj.weight": torch.randn(4096, hidden, generator=g).to(dtype),
            p + "self_attn.o_proj.weight": torch.randn(hidden, 4096, generator=g).to(dtype),
            p + "input_layernorm.weight": torch.ones(hidden, dtype=dtype),
            p + "post_attention_layernorm.weight": torch.ones(hidden, dtype=dtype),
        }
        shard_bytes += sum(t.numel() * t.element_size() for t in tensors.values())
        save_file(tensors, str(folder / f"model-{layer:05d}-of-{layers:05d}.safetensors"))
        del tensors
    save_file({"model.embed_tokens.weight": torch.randn(vocab, hidden, generator=g).to(dtype),
               "lm_head.weight": torch.randn(vocab, hidden, generator=g).to(dtype),
               "model.norm.weight": torch.ones(hidden, dtype=dtype)}, str(folder / "model-extra.safetensors"))
    return shard_bytes
