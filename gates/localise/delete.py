"""Seed 002's rank-1 DELETE edit (:mod:`vindex.gate3`) applied to every forget fact at once: the benchmark's
``gate3_delete`` method, edit ``rank1``.

For each forget fact f, on the graded prompt ``Q: <question> A:`` and the first token t_f of its answer:

1. Gate 3's attribution at the prompt's last position (:func:`vindex.gate3.attributions`) names the layer l_f
   (``top_contributor``: the layer of the single largest contributor, the rule of ``vindex.gate3_benchmark``) and
   its n most contributing neurons S_f there;
2. the rank-1 edit (a_f, v_f) = :func:`vindex.gate3.rank_one_edit` drives S_f's gate pre-activations on the
   prompt's key k*_f to ``target_preactivation``, with C_l the covariance of layer l's MLP inputs over the bundled
   probe text (:func:`vindex.gate3.key_covariance`), every edit computed on the unedited model;
3. the edits are summed into the weights::

       W_gate,l  ←  W_gate,l − Σ_{f : l_f = l} a_f v_fᵀ

   (each is exact on its own key alone; together they interfere where the keys are not C⁻¹-orthogonal).

The budget: with k = round(budget · N) neurons and F facts, n = max(1, ⌊k / F⌋) (at most a layer's I), so the facts' edits touch at
most k gate rows when F ≤ k (fewer where facts share neurons); the share of rows touched is reported as the
setting's ``fraction_edited``.
"""

import torch
from omegaconf import OmegaConf
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from gates.localise.logit_attribution import answer_tokens
from lab.config import asset_path
from lab.data.formats import qa_prompt
from vindex.gate3 import attributions, key_covariance, layer_edit
from vindex.gate3_benchmark import rule_layer
from vindex.probe import DEFAULT_PROBE, run_with_hooks

PROBE_TOKENS = 256  # as vindex's constants.probe_tokens


def probe_covariances(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[torch.Tensor]:
    """C_l for every layer, over the first :data:`PROBE_TOKENS` tokens of vindex's bundled probe text."""
    with open(asset_path(DEFAULT_PROBE)) as f:
        ids = tokenizer(f.read(), add_special_tokens=False)["input_ids"][:PROBE_TOKENS]
    return [key_covariance(keys) for keys in run_with_hooks(model, torch.tensor([ids])).keys]


def delete_facts(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, facts: list[dict], budget_neurons: int,
                 target_preactivation: float = -10.0, ridge: float = 1e-2) -> torch.Tensor:
    """Edit ``model``'s ``gate_proj`` weights in place (module docstring); the bool [L, I] mask of the rows touched."""
    per_fact = min(max(1, budget_neurons // max(len(facts), 1)), model.model.layers[0].mlp.gate_proj.out_features)
    rule = OmegaConf.create({"num_neurons": per_fact, "target_preactivation": target_preactivation, "ridge": ridge})
    covariances = probe_covariances(model, tokenizer)
    layers = model.model.layers
    deltas = [torch.zeros_like(layer.mlp.gate_proj.weight, dtype=torch.float32, device="cpu") for layer in layers]
    touched = torch.zeros(len(layers), layers[0].mlp.gate_proj.out_features, dtype=torch.bool)
    for fact, token in zip(facts, answer_tokens(tokenizer, facts).tolist(), strict=True):
        ids = tokenizer(qa_prompt(fact["question"]), return_tensors="pt", add_special_tokens=False)["input_ids"]
        acts = run_with_hooks(model, ids)
        contrib = attributions(model, acts, token)
        layer = rule_layer("top_contributor", contrib)
        neurons, overlay = layer_edit(model, acts, contrib, layer, covariances[layer], rule)
        deltas[layer] += overlay.delta()
        touched[layer, neurons] = True
    with torch.no_grad():
        for layer, delta in zip(layers, deltas, strict=True):
            layer.mlp.gate_proj.weight += delta.to(layer.mlp.gate_proj.weight)
    return touched
