"""The five "universal constants" of the seed, with exact definitions of our own (no public code defines them).

On a probe of T tokens, for every layer l (L layers): h_l ∈ R^{T×I} the SwiGLU activations
act(W_gate x) ⊙ (W_up x) (the input of ``down_proj``), X_l ∈ R^{T×H} the residual stream after layer l,
G_l ∈ R^{F×H} the vindex's unit gate directions, p_t the next-token distribution at position t.

- C1 FFN sparsity: C1_l = 1/(T·I) Σ 1[|h_l,tj| < τ · rms(h_l)], rms(h_l) = sqrt(mean h_l²), τ =
  ``constants.sparsity_tau`` (0.1); C1 = mean_l C1_l. Scale-free: "near zero" relative to the layer's size.
- C2 top-k probability mass: C2 = 1/T Σ_t Σ_{v ∈ top-k(p_t)} p_t(v), k = ``constants.top_mass_k`` (8).
- C3 gate coherence: C3_l = 1/F Σ_f max_g |⟨G_l[f], G_{l+1}[g]⟩| for l = 0..L−2 (each direction matched to its
  best partner in the next layer; |·| because SVD signs are conventions); C3 = mean_l C3_l.
- C4 layer temperature: C4_l = 1/I Σ_j Var_t(h_l,tj) (population variance over tokens); C4 = mean_l C4_l.
- C5 circuit stages: CKA_l = linear CKA(X_l, X_{l+1}) = ‖Ỹᵀ X̃‖_F² / (‖X̃ᵀX̃‖_F ‖ỸᵀỸ‖_F) with X̃, Ỹ centred over
  tokens (Kornblith et al. 2019); a transition is CKA_l < θ = ``constants.cka_threshold`` (0.9);
  C5 = #transitions + 1.

    python -m vindex.constants [source=...] [probe=<text file>]   # builds the vindex first if missing
"""

import math

import numpy as np
import torch
from omegaconf import DictConfig

from lab.config.command import hydra_cli, hydra_command
from lab.runs.artifacts import write_json
from vindex.probe import load_model, probe_ids, run_with_hooks
from vindex.reader import load
from vindex.source import resolve_source, writable_vindex_dir
from vindex.update import ensure_vindex, refresh_card

DEFINITIONS = {
    "C1": "mean over layers of the fraction of SwiGLU activations with |h| < tau * rms(h of the layer)",
    "C2": "mean over probe positions of the next-token probability mass on the top-k tokens",
    "C3": "mean over adjacent layer pairs of the mean, over gate directions, of the best |cosine| with the next layer's directions",
    "C4": "mean over layers of the mean over neurons of the SwiGLU activation variance over probe tokens",
    "C5": "1 + number of adjacent layer pairs whose residual-stream linear CKA is below the threshold",
}


def sparsity(h: torch.Tensor, tau: float) -> float:
    rms = h.pow(2).mean().sqrt()
    return float((h.abs() < tau * rms).float().mean())


def top_mass(logits: torch.Tensor, k: int) -> float:
    probs = torch.softmax(logits.float(), dim=-1)
    return float(probs.topk(min(k, probs.shape[-1]), dim=-1).values.sum(-1).mean())


def coherence(a: np.ndarray, b: np.ndarray) -> float:
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-12)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-12)
    return float(np.abs(a @ b.T).max(axis=1).mean())


def temperature(h: torch.Tensor) -> float:
    return float(h.var(dim=0, unbiased=False).mean())


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    x = (x - x.mean(0)).double()
    y = (y - y.mean(0)).double()
    denom = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    return float(torch.linalg.matrix_norm(y.T @ x) ** 2 / denom) if denom > 0 else 1.0


def stages(hidden: list[torch.Tensor], threshold: float) -> tuple[int, list[float]]:
    ckas = [linear_cka(a, b) for a, b in zip(hidden, hidden[1:], strict=False)]
    return 1 + sum(c < threshold for c in ckas), ckas


def measure(acts, gate_directions: np.ndarray, cfg: DictConfig) -> dict:
    """Per-layer values and the summary C1-C5 from hooked activations and the vindex gate directions."""
    c = cfg.constants
    per_layer = {
        "C1": [sparsity(h, c.sparsity_tau) for h in acts.swiglu],
        "C3": [coherence(np.asarray(gate_directions[i], np.float32), np.asarray(gate_directions[i + 1], np.float32))
               for i in range(len(gate_directions) - 1)],
        "C4": [temperature(h) for h in acts.swiglu],
    }
    c5, ckas = stages(acts.hidden, c.cka_threshold)
    per_layer["CKA"] = ckas
    summary = {"C1": float(np.mean(per_layer["C1"])), "C2": top_mass(acts.logits, c.top_mass_k),
               "C3": float(np.mean(per_layer["C3"])) if per_layer["C3"] else math.nan,
               "C4": float(np.mean(per_layer["C4"])), "C5": int(c5)}
    return {"summary": summary, "per_layer": per_layer}


def run_constants(cfg: DictConfig, loaded: tuple | None = None) -> dict:
    """C1-C5 into ``<vindex>/constants.json``; ``loaded``: the (model, tokenizer) of the source, if already loaded."""
    source = resolve_source(cfg)
    writable_vindex_dir(cfg, source)  # constants.json and the card go there: checked before the model loads
    model, tokenizer = loaded or load_model(source, cfg)
    ids, probe_name = probe_ids(tokenizer, cfg)  # a bad probe is refused before the vindex is built or touched
    folder = ensure_vindex(cfg, source)
    acts = run_with_hooks(model, ids)
    vx = load(folder, checksums=False)  # ensure_vindex verified the checksums
    index = vx.index
    result = measure(acts, vx.gate, cfg)
    result.update(definitions=DEFINITIONS, parameters=dict(cfg.constants), source=source, model=index["model"],
                  probe={"name": probe_name, "tokens": int(ids.shape[1])}, features=index.get("features"), num_feats=index.get("num_feats"))
    write_json(folder / "constants.json", result)
    refresh_card(folder)
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result["summary"].items()), f"-> {folder / 'constants.json'}")
    return result


@hydra_command("vindex")
def main(cfg: DictConfig) -> None:
    run_constants(cfg)


if __name__ == "__main__":
    hydra_cli(main)
