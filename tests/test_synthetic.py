"""``lab.dev.synthetic``: random checkpoints of the real shapes load as those models; ``build_model`` reads them in any dtype."""

import json

import torch
from transformers import Qwen3ForCausalLM

from lab.dev.synthetic import shapes, write_checkpoint
from lab.model import build_model
from lab.model.variants import Variant


def test_a_cut_down_qwen3_06b_loads_with_every_weight_and_the_shapes_widths(tmp_path):
    info = write_checkpoint(tmp_path / "ckpt", "qwen3-0.6b", layers=1, vocab=2048)
    assert shapes() == ["qwen3-0.6b", "qwen3-8b"] and info["shards"] == 2
    index = json.loads((tmp_path / "ckpt" / "model.safetensors.index.json").read_text())
    model = Qwen3ForCausalLM.from_pretrained(tmp_path / "ckpt", dtype=torch.float32)
    assert set(index["weight_map"]) == set(model.state_dict()) - {"lm_head.weight"}  # tied: the head is the embedding
    assert sum(p.numel() for p in model.parameters()) == info["params"]
    assert (model.config.hidden_size, model.config.intermediate_size, model.config.num_attention_heads) == (1024, 3072, 16)
    gate = model.model.layers[0].mlp.gate_proj.weight
    assert abs(gate.pow(2).mean().sqrt().item() - 0.02) < 2e-3  # N(0, σ²) with σ = initializer_range, RMS kept
    assert gate[:, :64].norm() > 4 * gate[:, -64:].norm()  # the decaying spectrum along the hidden axis
    assert torch.equal(model.model.norm.weight, torch.ones(1024))


def test_build_model_reads_a_checkpoint_in_the_requested_dtype_in_train_mode(tmp_path):
    write_checkpoint(tmp_path / "ckpt", "qwen3-8b", layers=1, vocab=512)
    cfg = {"name": "x", "pretrained": str(tmp_path / "ckpt"), "init": "pretrained", "config": {}}
    model = build_model(cfg, Variant.from_config({"name": "original"}), dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16} and all(m.training for m in model.modules())
    assert model.config.hidden_size == 4096 and not model.config.tie_word_embeddings
