"""The vindex model card (``README.md``), in the layout of the seed's card, with Hugging Face front matter written by
:func:`lab.report.cards.model_card` (``huggingface_hub``'s card data, as every tool's card)."""

from lab.report.cards import model_card

CONSTANT_ROWS = (("C1", "FFN Sparsity", "Fraction of near-zero SwiGLU activations"),
                 ("C2", "Top-8 Prob Mass", "Probability mass on top-8 output tokens"),
                 ("C3", "Gate Coherence", "Mean abs. cosine of matched gate_proj directions, adjacent layers"),
                 ("C4", "Layer Temperature", "Mean per-neuron SwiGLU activation variance"),
                 ("C5", "Circuit Stages", "CKA transition count + 1"))


def _constants_section(constants: dict | None) -> str:
    if not constants:
        return "Not measured yet: `python -m vindex.constants source=...`.\n"
    summary = constants["summary"]
    rows = "\n".join(f"| {name} | {sym} | {summary[sym]:.3f} | {meaning} |" if sym != "C5" else f"| {name} | {sym} | {summary[sym]} | {meaning} |"
                     for sym, name, meaning in CONSTANT_ROWS)
    return (f"Measured via forward-pass hooks on a {constants['probe']['tokens']}-token probe text "
            f"(`{constants['probe']['name']}`); exact definitions in `constants.json` (`definitions`).\n\n"
            f"| Constant | Symbol | Value | Interpretation |\n|---|---|---|---|\n{rows}\n")


def _gate3_section(gate3: dict | None) -> str:
    if not gate3:
        return ("Not yet evaluated: `python -m vindex.gate3 source=...`. Gate 3 tests whether a rank-1 ΔW patch to "
                "`gate_proj.weight` at the top target-feature layer suppresses P(target) by ≥70% with ≤30% control collateral.\n")
    best = gate3["best"]
    verdict = "PASS" if gate3["passed"] else "FAIL"
    return (f"**{verdict}** (forward pass). Prompt {gate3['prompt']!r} → {gate3['target']!r}; control {gate3['control_prompt']!r} → "
            f"{gate3['control_target']!r}. Best layer {best['layer']} (neurons {best['neurons']}): P(target) "
            f"{best['p_target_before']:.4f} → {best['p_target_after']:.4f} (drop {best['drop']:.1%}); P(control) "
            f"{best['p_control_before']:.4f} → {best['p_control_after']:.4f} (collateral {best['collateral']:.1%}). "
            f"Criteria: drop ≥ {gate3['criteria']['min_drop']:.0%}, collateral ≤ {gate3['criteria']['max_collateral']:.0%}. "
            f"Per-layer results in `gate3.json`; the patch overlay is `{gate3['patch_file']}` (the source weights are untouched).\n")


def vindex_card(index: dict, manifest: dict, constants: dict | None = None, gate3: dict | None = None) -> str:
    base = index["model"]
    feats = f"top-{index['num_feats']} SVD directions" if index["features"] == "svd" else "every neuron (dense)"
    body = f"""# {base} ({index['dtype']}) — LarQL Vindex
**Source model**: `{base}`
**Layers**: {index['num_layers']} **Hidden size**: {index['hidden_size']} **Features per layer**: {index['num_feats']} ({index['features']})
## What This Is
A **LarQL vindex** (vector index): a compact binary representation of the feature geometry of `{base}`. It contains the
{feats} of every MLP gate_proj and down_proj matrix in the network, plus token embeddings, layer norms, and vocabulary
projection metadata (`down_meta.bin`, top-{index['down_top_k']} tokens per feature).
## What This Is NOT
This is **not** a model you can run for inference (`extract_level: browse`). It is a mechanistic interpretability artifact.
## Universal Constants
{_constants_section(constants)}
## Gate 3 Status (DELETE Patch Test)
{_gate3_section(gate3)}
## Files
| File | Description |
|------|-------------|
| `gate_vectors.bin` | gate_proj directions per layer \\[L×F×H, {index['dtype']}\\] |
| `down_features.bin` | down_proj directions per layer \\[L×F×H, {index['down_features_dtype']}\\] (LarQL's reader expects f32 here; the seed and this file use `{index['down_features_dtype']}`, recorded in `index.json`) |
| `embeddings.bin` | Token embedding matrix \\[V×H, {index['dtype']}\\], raw |
| `norms.bin` + `weight_manifest.json` | Norm weight vectors (f32), located by the manifest |
| `down_meta.bin` | Per-feature top-k vocabulary projections (LarQL layout) |
| `singular_values.json` | σ of every kept direction (svd mode) |
| `tokenizer.json` | The model's tokenizer |
| `index.json` | Vindex metadata (LarQL fields + `num_feats`) |
| `manifest.json` | Build provenance (source file SHA256s, extraction time, tool, config) |
| `SHA256SUMS` | File integrity checksums (`sha256sum -c SHA256SUMS`) |
## How to Use
```python
import vindex
v = vindex.load("path/to/vindex")            # memory-mapped, checksums verified
v.token_scores(v.token_id(" Paris"))         # [L, F] cosine of the token's embedding with every gate feature
v.top_tokens(layer=3, feature=0)             # from down_meta.bin
v.nearest_features("Paris", k=5)
```
The seed card's numpy snippet also works unchanged. Built by `{manifest['tool']}` at {manifest['extracted_at']}.
"""
    return model_card(body, base_model=base, library_name=None, license="other", model_name=f"{base} ({index['dtype']})",
                      tags=["larql", "vindex", "mechanistic-interpretability", "feature-extraction"])
