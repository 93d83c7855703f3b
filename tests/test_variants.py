"""Variants on the real Qwen3-0.6B architecture (meta device) and bit-exactness of the control."""

import pytest
import torch
from omegaconf import OmegaConf
from transformers import Qwen3Config, Qwen3ForCausalLM

from lab.model.norms import built_class
from lab.model.variants import Variant, apply_variant, count_norms
from tests.conftest import CONF, QWEN3_06B_CONFIG, VARIANTS

# variant -> expected norm modules by class on Qwen3-0.6B (113 RMSNorms at start: 28*4 + 1)
SITES_06B = {"qk": 2 * 28, "layer": 2 * 28, "final": 1}  # Qwen3-0.6B: q/k norms and the two layer norms of 28 layers; model.norm


def expected_06b(v: Variant) -> dict[str, int]:
    """A variant's norm counts on Qwen3-0.6B, derived from its config and the replacement registry: every site it
    names holds the class its replacement builds, the others keep the RMSNorm (a new variant needs no entry here)."""
    replaced = sum(SITES_06B[site] for site in v.sites) if v.replacement != "none" else 0
    counts = {"Qwen3RMSNorm": 113 - replaced, **({built_class(v.replacement): replaced} if replaced else {})}
    return {k: n for k, n in sorted(counts.items()) if n}


def variant(name: str) -> Variant:
    return Variant.from_config(OmegaConf.to_container(OmegaConf.load(CONF / "variant" / f"{name}.yaml")))


def test_the_derived_expectations_are_the_documented_counts():
    """The README's table: what is left of Qwen3-0.6B's 113 RMSNorms under a few variants."""
    assert expected_06b(variant("original")) == {"Qwen3RMSNorm": 113}
    assert expected_06b(variant("no_qk_norm")) == expected_06b(variant("no_layer_norm")) == {"Identity": 56, "Qwen3RMSNorm": 57}
    assert expected_06b(variant("no_all_norm")) == {"Identity": 113}
    assert expected_06b(variant("replace_dyt_fit")) == {"DynamicTanh": 113}  # on the meta device no calibration runs


@pytest.mark.parametrize("name", VARIANTS)
def test_norm_counts_on_qwen3_06b(name):
    config = Qwen3Config.from_pretrained(QWEN3_06B_CONFIG)
    with torch.device("meta"):
        model = Qwen3ForCausalLM(config)
    assert count_norms(model) == {"Qwen3RMSNorm": 113}
    apply_variant(model, variant(name))
    assert count_norms(model) == expected_06b(variant(name))
    rms_left = sum(1 for m in model.modules() if type(m).__name__ == "Qwen3RMSNorm")
    assert rms_left == expected_06b(variant(name)).get("Qwen3RMSNorm", 0)


def test_no_layer_norm_keeps_qk_and_final_norms():
    config = Qwen3Config.from_pretrained(QWEN3_06B_CONFIG)
    with torch.device("meta"):
        model = Qwen3ForCausalLM(config)
    apply_variant(model, variant("no_layer_norm"))
    assert type(model.model.norm).__name__ == "Qwen3RMSNorm"
    assert type(model.model.layers[5].self_attn.q_norm).__name__ == "Qwen3RMSNorm"
    assert isinstance(model.model.layers[5].input_layernorm, torch.nn.Identity)


def tiny_config() -> Qwen3Config:
    return Qwen3Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=8)


def test_original_is_bit_exact_with_stock_qwen3():
    torch.manual_seed(0)
    stock = Qwen3ForCausalLM(tiny_config()).eval()
    patched = Qwen3ForCausalLM(tiny_config()).eval()
    patched.load_state_dict(stock.state_dict())
    assert apply_variant(patched, variant("original")) == 0
    ids = torch.randint(0, 64, (2, 11))
    assert torch.equal(stock(ids).logits, patched(ids).logits)


@pytest.mark.parametrize("name", ["replace_l2norm", "replace_layernorm"])
def test_pretrained_weights_carry_into_replacements(name):
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(tiny_config())
    with torch.no_grad():
        model.model.layers[0].input_layernorm.weight.uniform_(0.5, 1.5)
    carried = model.model.layers[0].input_layernorm.weight.detach().clone()
    apply_variant(model, variant(name))
    weight = model.model.layers[0].input_layernorm.weight.detach()
    scale = 32**0.5 if name == "replace_l2norm" else 1.0
    assert torch.allclose(weight, carried * scale)


def test_l2norm_variant_preserves_function_of_pretrained_model():
    """With the √d carry-over rule, replace_l2norm changes the logits only through where eps enters."""
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(tiny_config()).eval()
    ids = torch.randint(0, 64, (1, 9))
    before = model(ids).logits
    apply_variant(model, variant("replace_l2norm"))
    assert torch.allclose(model(ids).logits, before, atol=1e-3)


def test_variant_with_unknown_site_is_refused():
    with pytest.raises(ValueError, match="unknown sites"):
        Variant(name="bad", sites=("mlp",), replacement="identity")


def test_the_dyt_llm_recipe_sets_alpha_by_role_drops_beta_and_scales_the_embeddings():
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(**{**tiny_config().to_dict(), "tie_word_embeddings": True}))
    apply_variant(model, variant("replace_dyt_llm"))
    layer = model.model.layers[1]
    alphas = {name: float(m.alpha) for name, m in (("qk", layer.self_attn.q_norm), ("attn", layer.input_layernorm),
                                                    ("ffn", layer.post_attention_layernorm), ("final", model.model.norm))}
    assert alphas == pytest.approx({"qk": 0.8, "attn": 0.8, "ffn": 0.2, "final": 0.2})
    assert layer.input_layernorm.bias is None and "model.norm.bias" not in model.state_dict()
    embed = model.model.embed_tokens
    assert float(embed.scale) == pytest.approx(32**0.5) and model.lm_head.weight is embed.weight  # still tied
    ids = torch.randint(0, 64, (1, 5))
    assert torch.allclose(embed(ids), torch.nn.functional.embedding(ids, embed.weight) * 32**0.5)


def test_a_variant_with_options_round_trips_through_an_artifact(tmp_path):
    from lab.model import load_artifact
    from lab.runs.artifacts import save_weights

    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(**{**tiny_config().to_dict(), "tie_word_embeddings": True})).eval()
    spec = variant("replace_dyt_llm")
    apply_variant(model, spec)
    with torch.no_grad():
        model.model.embed_tokens.scale.fill_(3.0)
    save_weights(model, tmp_path)
    model.config.to_json_file(str(tmp_path / "config.json"))
    (tmp_path / "metadata.json").write_text(__import__("json").dumps({"variant_spec": spec.to_dict()}))
    loaded = load_artifact(tmp_path)
    ids = torch.randint(0, 64, (2, 7))
    assert torch.equal(loaded(ids).logits, model(ids).logits) and float(loaded.model.embed_tokens.scale) == 3.0


def test_variant_options_are_checked():
    with pytest.raises(ValueError, match="l2norm takes no option \\['alpha_init'\\]"):
        Variant(name="bad", sites=("qk",), replacement="l2norm", options={"alpha_init": 1.0})
    with pytest.raises(ValueError, match="roles \\['mlp'\\]"):
        Variant(name="bad", sites=("qk",), replacement="dyt", options={"alpha_init": {"mlp": 1.0}})
    with pytest.raises(ValueError, match="embedding_scale='huge'"):
        Variant(name="bad", embedding_scale="huge")


def test_the_fitted_dyt_surgery_preserves_the_function_better_than_the_rule_and_records_its_errors():
    """carry_over=fit on a small Qwen3: every site's DyT is fitted to its RMSNorm's outputs on calibration blocks;
    the patched model's logits stay far closer to the unpatched ones than with replace_dyt's carry-over rule."""
    config = Qwen3Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=8)
    torch.manual_seed(0)
    stock = Qwen3ForCausalLM(config).eval()
    ids = torch.randint(0, 64, (8, 24), generator=torch.Generator().manual_seed(0))
    held_out = torch.randint(0, 64, (4, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = stock(held_out).logits
    gaps = {}
    for name in ("replace_dyt", "replace_dyt_fit"):
        model = Qwen3ForCausalLM(config).eval()
        model.load_state_dict(stock.state_dict())
        assert apply_variant(model, variant(name), calibration_ids=ids) == 2 * 4 + 1
        with torch.no_grad():
            gaps[name] = float((model(held_out).logits - reference).pow(2).mean() / reference.pow(2).mean())
    errors = model.norm_fit_errors
    assert len(errors) == 9 and all(0 <= e < 0.5 for e in errors.values())
    assert gaps["replace_dyt_fit"] < 0.25 * gaps["replace_dyt"]
    with pytest.raises(ValueError, match="carry_over=fit fits DyT"):
        Variant(name="x", sites=("qk",), replacement="layernorm", carry_over="fit")


def test_a_new_norm_follows_docs_architecture_recipe_in_three_places(tmp_path, monkeypatch):
    """docs/architecture.md's recipe for a new norm: (1) its module, (2) its registry entry, (3) a variant YAML, here in
    a temporary copy of conf/. Nothing else: the counts, the expectations and the config checks follow."""
    import shutil

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from torch import nn

    from lab.config.registry import register_schemas, validate
    from lab.model.norms import REPLACEMENTS

    class MeanNorm(nn.Module):  # (1) the norm: x − mean(x), a learnable gain carried over from the RMSNorm
        def __init__(self, weight: torch.Tensor) -> None:
            super().__init__()
            self.weight = nn.Parameter(weight.clone())

        @classmethod
        def from_rmsnorm(cls, rms: nn.Module) -> "MeanNorm":
            return cls(rms.weight.detach())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.weight * (x - x.mean(-1, keepdim=True))

    monkeypatch.setitem(REPLACEMENTS, "meannorm", MeanNorm.from_rmsnorm)  # (2) the registry entry
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "variant" / "replace_meannorm.yaml").write_text("name: replace_meannorm\nsites: [layer]\nreplacement: meannorm\n")  # (3)
    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["variant=replace_meannorm"])
    validate(cfg)  # the variant node's checks know the new replacement
    new = Variant.from_config(OmegaConf.to_container(cfg.variant))
    with torch.device("meta"):
        model = Qwen3ForCausalLM(Qwen3Config.from_pretrained(QWEN3_06B_CONFIG))
    apply_variant(model, new)
    assert count_norms(model) == expected_06b(new) == {"MeanNorm": 56, "Qwen3RMSNorm": 57}
