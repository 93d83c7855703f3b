"""Gate statistics and operating thresholds, as the seed's ``gate_stats.json`` reports them.

A neuron is *masked* (a "knowledge" neuron) at threshold t when its gate g = sigmoid(λ) satisfies
g < t. For a target off-fraction q over N gates sorted ascending g_(0) ≤ … ≤ g_(N−1), the selected
threshold is t_q = g_(k) with k = round(q·N): exactly k gates lie strictly below it when the gates are
distinct, so the masked fraction is k/N (the exact fraction, ties included, is reported beside it).
"""

import torch

DEFAULT_THRESHOLD = 0.5
OFF_FRACTIONS = (0.05, 0.25, 0.50, 0.75, 0.95)
ROLES = {0.05: "Very mild masking", 0.25: "Moderate", 0.50: "Median split", 0.75: "Heavy", 0.95: "Near-total"}


def select_thresholds(gates: torch.Tensor, off_fractions: tuple[float, ...] = OFF_FRACTIONS) -> list[dict]:
    """One operating point per target off-fraction: threshold, neurons masked and their exact fraction."""
    flat = gates.detach().float().flatten()
    ordered = torch.sort(flat).values
    points = []
    for q in off_fractions:
        k = min(max(round(q * flat.numel()), 0), flat.numel() - 1)
        threshold = float(ordered[k])
        masked = int((flat < threshold).sum())
        points.append({"target_off_fraction": q, "threshold": threshold, "neurons_masked": masked,
                       "fraction_masked": masked / flat.numel(), "role": ROLES.get(q, "")})
    return points


def gate_stats(gates: torch.Tensor, default_threshold: float = DEFAULT_THRESHOLD,
               off_fractions: tuple[float, ...] = OFF_FRACTIONS) -> dict:
    """Total gates, mean/std/min/max of g, masked count at the default threshold, and the operating points."""
    flat = gates.detach().float().flatten()
    masked = int((flat < default_threshold).sum())
    return {
        "total_gates": flat.numel(),
        "num_layers": int(gates.shape[0]),
        "intermediate_size": int(gates.shape[1]),
        "mean": float(flat.mean()),
        "std": float(flat.std()) if flat.numel() > 1 else 0.0,
        "min": float(flat.min()),
        "max": float(flat.max()),
        "default_threshold": default_threshold,
        "knowledge_neurons_at_default": masked,
        "fraction_masked_at_default": masked / flat.numel(),
        "selected_thresholds": select_thresholds(gates, off_fractions),
    }


def knowledge_neurons(gates: torch.Tensor, threshold: float = DEFAULT_THRESHOLD) -> dict[str, list[int]]:
    """``{"<layer>": [neurons with g < threshold]}`` for every layer (empty lists kept)."""
    return {str(layer): torch.nonzero(row < threshold).flatten().tolist() for layer, row in enumerate(gates.detach().float())}


def fraction_below(gates: torch.Tensor, threshold: float) -> float:
    return float((gates.detach().float() < threshold).float().mean())
