"""Gate 3, by forward pass: a rank-1 edit of one layer's ``gate_proj`` that deletes a fact, and its collateral.

1. Attribution. On the prompt (e.g. "The capital of France is"), at its last position, for every searched
   layer l and neuron j: contribution_lj = h_lj · (u_target · W_down,l[:, j]), where h_l is the SwiGLU
   activation and u_target the unembedding row of the target's first token (" Paris"): the neuron's direct
   logit contribution through ``down_proj`` and the unembedding (final norm ignored).
2. Edit (per searched layer). k* = the layer's MLP input (normalized residual) at the last prompt position;
   C = (1/T) Σ_t k_t k_tᵀ over the probe text + ρ·tr(C)/H·I (ρ = ``gate3.ridge``); for the n most contributing
   neurons S (``gate3.num_neurons``), a_j = z_j − z_target for j ∈ S (z = W_gate k*, z_target =
   ``gate3.target_preactivation``), 0 elsewhere; v = C⁻¹k* / (k*ᵀ C⁻¹ k*). Then

       ΔW_gate = −a vᵀ        (rank 1: (W+ΔW) k* = W k* − a, so z_S → z_target, SiLU(z_target) ≈ 0)

   and for any key k, the change is −a (vᵀk): keys C⁻¹-orthogonal to k* are untouched (ROME's construction,
   applied to gate_proj with a suppression target).
3. Test. The edit is applied as an overlay (a forward hook adding −(x·v) a to ``gate_proj``'s output; the
   weights are untouched and the hook is removable). drop = 1 − P'(target)/P(target) on the prompt;
   collateral = |P'(control) − P(control)| / P(control) on the control prompt. PASS: drop ≥ ``min_drop`` (0.7)
   and collateral ≤ ``max_collateral`` (0.3). The best layer is the one with the largest drop among those
   within the collateral bound (else the largest drop).

    python -m vindex.gate3 [source=...] [gate3.layers=[10,11]] [gate3.num_neurons=4]
"""

from pathlib import Path

import torch
from omegaconf import DictConfig
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lab.config.command import hydra_cli, hydra_command
from lab.config.errors import UserError
from lab.model import saved_variant
from lab.report.model_folder import write_model_folder
from lab.runs.artifacts import atomic_write, check_writable, write_json
from vindex.probe import load_model, probe_ids, run_with_hooks
from vindex.source import resolve_source, writable_vindex_dir
from vindex.update import ensure_vindex, refresh_card

PATCH_FILE = "gate3_patch.safetensors"


def first_token(tokenizer: PreTrainedTokenizerBase, text: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise UserError(f"target {text!r} encodes to no token")
    return ids[0]


@torch.no_grad()
def next_token_prob(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompt: str, token: int) -> float:
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"].to(model.device)
    return float(torch.softmax(model(input_ids=ids).logits[0, -1].float(), dim=-1)[token])


def attributions(model: PreTrainedModel, acts, target: int) -> torch.Tensor:
    """[L, I] direct logit contribution of every neuron at the prompt's last position (see module docstring)."""
    u = model.lm_head.weight[target].detach().float().cpu()
    return torch.stack([acts.swiglu[i][-1] * (u @ layer.mlp.down_proj.weight.detach().float().cpu())
                        for i, layer in enumerate(model.model.layers)])


def rank_one_edit(w_gate: torch.Tensor, key: torch.Tensor, cov: torch.Tensor, neurons: list[int], z_target: float,
                  ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, v) with ΔW = −a vᵀ: drives the pre-activations of ``neurons`` on ``key`` to ``z_target``."""
    hidden = cov.shape[0]
    cov = cov.double() + ridge * torch.trace(cov.double()) / hidden * torch.eye(hidden, dtype=torch.float64)
    c_inv_k = torch.linalg.solve(cov, key.double())
    v = c_inv_k / (key.double() @ c_inv_k)
    z = w_gate.double() @ key.double()
    a = torch.zeros(w_gate.shape[0], dtype=torch.float64)
    a[neurons] = z[neurons] - z_target
    return a.float(), v.float()


def key_covariance(keys: torch.Tensor) -> torch.Tensor:
    """C = (1/T) Σ_t k_t k_tᵀ of one layer's MLP inputs [T, H] on the probe."""
    return keys.T @ keys / keys.shape[0]


class PatchOverlay:
    """ΔW_gate = −a vᵀ on one layer, as a removable forward hook (``gate_proj(x) − (x·v) a``)."""

    def __init__(self, layer: int, a: torch.Tensor, v: torch.Tensor) -> None:
        self.layer, self.a, self.v = layer, a, v
        self.handle = None

    def apply(self, model: PreTrainedModel) -> "PatchOverlay":
        proj: nn.Linear = model.model.layers[self.layer].mlp.gate_proj
        a, v = self.a.to(proj.weight), self.v.to(proj.weight)
        self.handle = proj.register_forward_hook(lambda m, args, out: out - (args[0] @ v)[..., None] * a)
        return self

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    def delta(self) -> torch.Tensor:
        return -torch.outer(self.a, self.v)

    def save(self, path: Path, meta: dict[str, str]) -> None:
        tensors = {"a": self.a.contiguous(), "v": self.v.contiguous()}
        info = {"layer": str(self.layer), "delta": "gate_proj.weight += -outer(a, v)", **meta}
        atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=info))

    @classmethod
    def load(cls, path: Path) -> "PatchOverlay":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            layer = int(f.metadata()["layer"])
        tensors = load_file(str(path))
        return cls(layer, tensors["a"], tensors["v"])


def layer_edit(model: PreTrainedModel, acts, contrib: torch.Tensor, layer: int, cov: torch.Tensor, g: DictConfig) -> tuple[list[int], PatchOverlay]:
    """The ``g.num_neurons`` top contributors of ``layer`` and the rank-1 overlay (not applied) that drives them to
    ``g.target_preactivation`` on the prompt's last key (module docstring, step 2)."""
    neurons = contrib[layer].topk(g.num_neurons).indices.tolist()
    a, v = rank_one_edit(model.model.layers[layer].mlp.gate_proj.weight.detach().float().cpu(), acts.keys[layer][-1], cov,
                         neurons, g.target_preactivation, g.ridge)
    return neurons, PatchOverlay(layer, a, v)


def save_edited(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, overlay: PatchOverlay, report: dict,
                out: Path) -> Path:
    """``model`` with ``overlay``'s DELETE folded into its weights, W_gate ← W_gate − a vᵀ at the overlay's layer,
    written to ``out`` as a plain model folder (:func:`lab.report.model_folder.write_model_folder`); ``model`` is
    left as it was (that one matrix is restored from a copy, not by subtracting the edit again)."""
    proj: nn.Linear = model.model.layers[overlay.layer].mlp.gate_proj
    kept = proj.weight.detach().clone()
    source = report["source"]
    variant = saved_variant(source) if Path(source).is_dir() else None
    try:
        with torch.no_grad():
            proj.weight += overlay.delta().to(proj.weight)
        best = report["best"]
        write_model_folder(
            out, model, tokenizer,
            {"stage": "gate3_delete", "base_model": source, "layer": overlay.layer, "neurons": best["neurons"],
             "prompt": report["prompt"], "target": report["target"], "drop": best["drop"], "collateral": best["collateral"],
             "delta": "model.layers.<layer>.mlp.gate_proj.weight += -outer(a, v)", **report["parameters"]},
            title=f"{source} with Gate 3's rank-1 DELETE of {report['target'].strip()!r} folded in",
            body=(f"Layer {overlay.layer}, neurons {best['neurons']}: after `{report['prompt']}` P({report['target']!r}) falls by "
                  f"{best['drop']:.1%}, P({report['control_target']!r} | `{report['control_prompt']}`) moves by {best['collateral']:.1%}."),
            base_model=source, tags=["qwen3", "gate3", "rank-one-edit"],
            variant_spec=variant.to_dict() if variant is not None else None)
    finally:
        with torch.no_grad():
            proj.weight.copy_(kept)
    print(f"wrote {out}")
    return out


def gate3_inputs(cfg: DictConfig, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> tuple[int, int, list[int]]:
    """The target and control token ids and the layers to search; a bad ``gate3.*`` input is one :class:`UserError`."""
    g = cfg.gate3
    target, control = first_token(tokenizer, str(g.target)), first_token(tokenizer, str(g.control_target))
    num_layers = model.config.num_hidden_layers
    layers = list(range(num_layers)) if g.get("layers") is None else list(g.layers)
    if any(not 0 <= layer < num_layers for layer in layers):
        raise UserError(f"gate3.layers={list(layers)} outside 0..{num_layers - 1}")
    if g.save and Path(g.save).expanduser().exists():
        raise UserError(f"gate3.save={g.save} exists; remove it or name another folder")
    return target, control, layers


def run_gate3(cfg: DictConfig, loaded: tuple | None = None) -> dict:
    """Gate 3 into ``<vindex>/gate3.json``; ``loaded``: the (model, tokenizer) of the source, if already loaded."""
    g = cfg.gate3
    source = resolve_source(cfg)
    writable_vindex_dir(cfg, source)  # gate3.json, the patch and the card go there: checked before the model loads
    if g.save:
        check_writable(Path(g.save).expanduser(), "gate3.save=...")
    model, tokenizer = loaded or load_model(source, cfg)  # every input is checked before the vindex is built or touched
    target, control, layers = gate3_inputs(cfg, model, tokenizer)
    probe_tokens = probe_ids(tokenizer, cfg)[0]
    folder = ensure_vindex(cfg, source)
    prompt_ids = tokenizer(str(g.prompt), return_tensors="pt", add_special_tokens=False)["input_ids"]
    acts = run_with_hooks(model, prompt_ids)
    probe = run_with_hooks(model, probe_tokens)
    contrib = attributions(model, acts, target)
    p_target, p_control = (next_token_prob(model, tokenizer, str(g.prompt), target),
                           next_token_prob(model, tokenizer, str(g.control_prompt), control))
    results, overlays = [], {}
    for layer in layers:
        neurons, overlay = layer_edit(model, acts, contrib, layer, key_covariance(probe.keys[layer]), g)
        overlay.apply(model)
        after_t = next_token_prob(model, tokenizer, str(g.prompt), target)
        after_c = next_token_prob(model, tokenizer, str(g.control_prompt), control)
        overlay.remove()
        overlays[layer] = overlay
        results.append({"layer": layer, "neurons": neurons, "contribution": [float(contrib[layer, n]) for n in neurons],
                        "p_target_before": p_target, "p_target_after": after_t, "drop": 1 - after_t / p_target,
                        "p_control_before": p_control, "p_control_after": after_c,
                        "collateral": abs(after_c - p_control) / p_control})
    within = [r for r in results if r["collateral"] <= g.max_collateral]
    best = max(within or results, key=lambda r: r["drop"])
    top_layer, top_neuron = divmod(int(contrib.argmax()), contrib.shape[1])
    report = {
        "prompt": str(g.prompt), "target": str(g.target), "target_token": target, "control_prompt": str(g.control_prompt),
        "control_target": str(g.control_target), "control_token": control, "num_neurons": g.num_neurons,
        "top_contributor": {"layer": top_layer, "neuron": top_neuron, "contribution": float(contrib.max())},
        "criteria": {"min_drop": g.min_drop, "max_collateral": g.max_collateral},
        "passed": best["drop"] >= g.min_drop and best["collateral"] <= g.max_collateral,
        "best": best, "layers": results, "patch_file": PATCH_FILE, "source": source,
        "parameters": {"target_preactivation": g.target_preactivation, "ridge": g.ridge},
    }
    overlays[best["layer"]].save(folder / PATCH_FILE, {"prompt": report["prompt"], "target": report["target"], "source": source})
    if g.save:
        report["saved"] = str(save_edited(model, tokenizer, overlays[best["layer"]], report, Path(g.save).expanduser()))
    write_json(folder / "gate3.json", report)
    refresh_card(folder)
    print(f"Gate 3 {'PASS' if report['passed'] else 'FAIL'}: layer {best['layer']} drop {best['drop']:.1%} "
          f"collateral {best['collateral']:.1%} -> {folder / 'gate3.json'}")
    return report


@hydra_command("vindex")
def main(cfg: DictConfig) -> None:
    run_gate3(cfg)


if __name__ == "__main__":
    hydra_cli(main)
