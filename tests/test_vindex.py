"""Vindex build, format, load/verify/query, constants and Gate 3 on tiny checkpoints written here."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

import vindex
from lab.config import asset_path
from lab.config.errors import UserError
from tests.conftest import compose_vindex
from tests.larql_reader import read_vindex
from vindex.build import build
from vindex.svd import flip_signs, randomized_svd

SEED_SNIPPET = Path(__file__).parent / "seed_snippets" / "vindex_usage.py"
TINY = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
            vocab_size=1696, max_position_embeddings=512, tie_word_embeddings=True)


def vindex_cfg(*overrides: str):
    return compose_vindex(list(overrides))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny random Qwen3 saved with save_pretrained (safetensors) plus the bundled tokenizer."""
    folder = tmp_path_factory.mktemp("ckpt") / "tiny-qwen3"
    torch.manual_seed(0)
    Qwen3ForCausalLM(Qwen3Config(**TINY)).save_pretrained(folder)
    shutil.copy(asset_path("tiny_tokenizer/tokenizer.json"), folder)
    shutil.copy(asset_path("tiny_tokenizer/tokenizer_config.json"), folder)
    return folder


@pytest.fixture(scope="module")
def built(checkpoint, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vx") / "svd"
    # oversample 48: 16 + 48 = 64 = the rank, so the SVD is exact and the test can compare directions exactly;
    # the randomized path's accuracy is tested on a decaying spectrum below and at Qwen3-8B's shapes.
    build(vindex_cfg(f"source={checkpoint}", f"out={out}", "num_features=16", "svd.oversample=48"))
    return out


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(checkpoint / "model.safetensors"))


def test_randomized_svd_matches_the_exact_one_on_a_decaying_spectrum():
    g = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(600, 200, generator=g))
    v, _ = torch.linalg.qr(torch.randn(300, 200, generator=g))
    sigma = torch.arange(1, 201, dtype=torch.float32) ** -1.0
    a = u @ torch.diag(sigma) @ v.T
    U, S, Vh = randomized_svd(a, 16, seed=3)
    torch.testing.assert_close(S, sigma[:16], rtol=1e-3, atol=0)
    assert (Vh @ v[:, :16]).diag().abs().min() > 0.999
    U2, S2, Vh2 = randomized_svd(a, 16, seed=3)
    assert torch.equal(Vh, Vh2) and torch.equal(S, S2)  # deterministic with a seed
    signs = flip_signs(torch.tensor([[0.1, -0.9, 0.2], [0.5, 0.1, -0.2]]))
    assert signs.tolist() == [-1.0, 1.0]


def test_build_writes_every_file_in_larqls_layout(built, checkpoint):
    got = read_vindex(built)
    index, state = got["index"], weights(checkpoint)
    assert index["num_layers"] == 3 and index["num_feats"] == 16 and index["vocab_size"] == 1696 and index["family"] == "qwen3"
    assert index["version"] == 2 and index["extract_level"] == "browse" and index["embed_scale"] == 1.0
    assert index["layer_bands"] == {"syntax": [0, 0], "knowledge": [1, 1], "output": [2, 2]}
    assert index["source"]["extracted_at"] and index["source"]["larql_version"].startswith("qwen3-internals vindex")
    for layer in range(3):
        w_gate = state[f"model.layers.{layer}.mlp.gate_proj.weight"].float()
        exact_u, exact_s, exact_vh = torch.linalg.svd(w_gate, full_matrices=False)
        ours = torch.from_numpy(got["gate"][layer].astype(np.float32))
        cos = (ours @ exact_vh[:16].T).diag()
        assert cos.abs().min() > 0.99  # the top-16 right singular vectors (f16), in order
        expected_sign = flip_signs(exact_u[:, :16].T)
        assert torch.equal(torch.sign(cos), expected_sign)  # the documented sign rule
        w_down = state[f"model.layers.{layer}.mlp.down_proj.weight"].float()
        down_u = torch.linalg.svd(w_down, full_matrices=False)[0][:, :16].T
        down = torch.from_numpy(got["down"][layer].astype(np.float32))
        assert (down @ down_u.T).diag().abs().min() > 0.99
    emb = state["model.embed_tokens.weight"]
    assert np.array_equal(got["embeddings"], emb.numpy().astype(np.float16))
    assert list(got["norms"])[:3] == ["layers.0.input_layernorm.weight", "layers.0.post_attention_layernorm.weight",
                                      "layers.1.input_layernorm.weight"]
    assert list(got["norms"])[6] == "norm.weight" and "layers.0.self_attn.q_norm.weight" in got["norms"]
    for key, vector in got["norms"].items():
        assert np.array_equal(vector, state[f"model.{key}"].numpy())
    assert sorted(got["sums"]) == sorted(p.name for p in built.iterdir() if p.name != "SHA256SUMS")
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=built).returncode == 0
    manifest = got["manifest"]
    assert set(manifest["source"]["files_sha256"]) == {"config.json", "model.safetensors"} and manifest["extracted_at"]


def test_down_meta_holds_the_top_tokens_of_each_direction(built):
    got = read_vindex(built)
    emb = got["embeddings"].astype(np.float32)
    for layer in range(3):
        for feature in (0, 7, 15):
            record = got["down_meta"][layer][feature]
            d = torch.from_numpy(got["down"][layer][feature].astype(np.float32))
            logits = (torch.from_numpy(emb) @ d).numpy()
            top = np.argsort(-logits)[:10]
            ids = [t for t, _ in record["tokens"] if t or _]
            assert set(ids) <= set(top.tolist()) and record["top_token_id"] == ids[0]
            assert record["c_score"] == pytest.approx(float(logits[ids[0]]), rel=2e-2, abs=2e-3)
            assert logits[ids[0]] > 0  # sign rule: the strongest projection is positive


def test_load_query_and_the_seed_snippet(built, capsys):
    v = vindex.load(built)
    assert v.gate.shape == (3, 16, 64) and isinstance(v.gate, np.memmap) and v.embeddings.shape == (1696, 64)
    paris = v.token_id(" Paris")
    scores = v.token_scores(paris)
    assert scores.shape == (3, 16) and np.abs(scores).max() <= 1.0001
    tops = v.top_tokens(1, 0)
    assert tops and all(isinstance(t, str) and t.strip() for t, _ in tops)
    near = v.nearest_features("Paris", k=4)
    assert len(near) == 4 and abs(near[0][2]) >= abs(near[-1][2])
    code = SEED_SNIPPET.read_text().replace('"path/to/downloaded/vindex"', repr(str(built)))
    code = code.replace("token_id = 12379", f"token_id = {paris}")  # the seed's id is Qwen3's " Paris"
    exec(compile(code, str(SEED_SNIPPET), "exec"), {})
    layer, feature = np.unravel_index(scores.argmax(), scores.shape)
    assert f"Top feature: layer={layer}, feature={feature}" in capsys.readouterr().out


def test_full_features_are_the_raw_neurons(checkpoint, tmp_path):
    out = tmp_path / "full"
    build(vindex_cfg(f"source={checkpoint}", f"out={out}", "vindex=full", "dtype=f32"))
    got, state = read_vindex(out), weights(checkpoint)
    assert got["index"]["num_feats"] == 96 and got["index"]["features"] == "full"
    assert np.array_equal(got["gate"][2], state["model.layers.2.mlp.gate_proj.weight"].numpy())
    assert np.array_equal(got["down"][2], state["model.layers.2.mlp.down_proj.weight"].numpy().T)
    assert not (out / "singular_values.json").exists()


@pytest.mark.parametrize("damage", ["truncate", "tamper"])
def test_verify_and_load_refuse_a_damaged_index_naming_the_file(built, tmp_path, damage):
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    path = copy / "gate_vectors.bin"
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[:-100]) if damage == "truncate" else bytes(data[:10]) + bytes([data[10] ^ 0xFF]) + bytes(data[11:]))
    for check in (vindex.verify, vindex.load):
        with pytest.raises(UserError, match="gate_vectors.bin"):
            check(copy)
    if damage == "truncate":
        with pytest.raises(UserError, match="gate_vectors.bin has .* bytes"):
            vindex.load(copy, checksums=False)


def test_build_refuses_bad_sources(checkpoint, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no \\*.safetensors"):
        build(vindex_cfg(f"source={empty}", f"out={tmp_path / 'a'}"))
    llama = tmp_path / "llama"
    shutil.copytree(checkpoint, llama)
    text = (llama / "config.json").read_text().replace('"model_type": "qwen3"', '"model_type": "llama"')
    (llama / "config.json").write_text(text)
    with pytest.raises(UserError, match="'llama' model, not Qwen3"):
        build(vindex_cfg(f"source={llama}", f"out={tmp_path / 'b'}"))
    with pytest.raises(UserError, match="num_features=100 but .* rank at most 64"):
        build(vindex_cfg(f"source={checkpoint}", f"out={tmp_path / 'c'}", "num_features=100"))
    with pytest.raises(UserError, match="cannot fetch 'Qwen/Qwen3-8B' from the Hugging Face hub .HF_HUB_OFFLINE is set"):
        build(vindex_cfg("source=Qwen/Qwen3-8B", f"out={tmp_path / 'd'}"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "llama"]  # nothing half-written


def test_an_existing_vindex_is_reused_only_for_its_own_build_config(built, checkpoint):
    """Issue 15's rule for the vindex: constants and Gate 3 reuse an index built with the same build keys."""
    from lab.runs.identity import ConfigChanged
    from vindex.update import ensure_vindex

    same = [f"source={checkpoint}", f"out={built}", "num_features=16", "svd.oversample=48"]
    stamp = (built / "gate_vectors.bin").stat().st_mtime_ns
    assert ensure_vindex(vindex_cfg(*same, "constants.probe_tokens=128"), str(checkpoint)) == built  # not a build key
    with pytest.raises(ConfigChanged, match=r"built with another config \(dtype: 'f16' -> 'f32'\).*overwrite=true"):
        ensure_vindex(vindex_cfg(*same, "dtype=f32"), str(checkpoint))
    with pytest.raises(ConfigChanged, match=r"seed: 0 -> 1"):
        ensure_vindex(vindex_cfg(*same, "seed=1"), str(checkpoint))
    assert (built / "gate_vectors.bin").stat().st_mtime_ns == stamp
