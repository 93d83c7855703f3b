"""The model card (``README.md``) of a gate run, in the seed's layout, with Hugging Face front matter."""

from gates.files import INDICES_FILE, LOGITS_FILE, STATS_FILE, THRESHOLDS_FILE
from lab.report.cards import model_card

# The card's usage section: the seed's snippet (hard masking from neuron_indices.json), then this suite's command.
USAGE = """
## Usage

```python
import torch, json
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained(BASE_MODEL, torch_dtype=torch.bfloat16)
gate_state = torch.load("lambda_logits.pt", map_location="cpu", weights_only=True)

# Option 1: hard masking via neuron_indices at the default threshold
with open("neuron_indices.json") as f:
    knowledge_neurons = json.load(f)
for layer_idx, neuron_idxs in knowledge_neurons.items():
    layer = model.model.layers[int(layer_idx)]
    with torch.no_grad():
        layer.mlp.gate_proj.weight[neuron_idxs, :] = 0
        layer.mlp.up_proj.weight[neuron_idxs, :] = 0

# Option 2: soft gating (or hard masking at any threshold) with this suite:
#   python -m gates.apply gates_dir=. mode=soft            -> a loadable model folder
#   python -m gates.apply gates_dir=. mode=hard threshold=0.478
```
"""


def gate_card(stats: dict, meta: dict, evaluation_table: str | None = None) -> str:
    """Markdown card: contents, gate statistics, thresholds, training setup, usage (the seed's snippet)."""
    hp = meta.get("gates", {})
    rows = "\n".join(f"| {p['threshold']:.3f} | {p['fraction_masked']:.1%} ({p['neurons_masked']:,}) | {p['role']} |"
                     for p in stats["selected_thresholds"])
    layers, width = stats["num_layers"], stats["intermediate_size"]
    text = f"""# Lambda gates for {meta.get('base_model', 'a Qwen3 model')} (variant `{meta.get('variant', 'original')}`)

Per-neuron learnable sigmoid gates g = sigmoid(λ) on every FFN intermediate neuron, trained so that
zeroing the neurons with low gates suppresses factual recall while preserving reasoning.

## Contents

| File | Description |
|---|---|
| `{LOGITS_FILE}` | Per-neuron logits λ (pre-sigmoid), {layers} × {width}. `torch.load(..., weights_only=True)` returns a state dict with `module.model.layers.<i>.mlp.lambda_logits` keys. |
| `{INDICES_FILE}` | Knowledge-neuron indices per layer at the default threshold {stats['default_threshold']}: `{{"layer_idx": [neuron_idx, ...]}}`. |
| `{STATS_FILE}` | Gate statistics and five selected operating thresholds (5%, 25%, 50%, 75%, 95% off-fractions). |
| `{THRESHOLDS_FILE}` | Comma-separated threshold list matching `{STATS_FILE}`. |
| `metadata.json`, `train_metrics.json`, `gate_histogram.png` | Provenance and config, per-step metrics, the gate distribution. |

## Gate statistics

| Metric | Value |
|---|---|
| Total gates | {stats['total_gates']:,} ({layers} layers × {width} intermediate) |
| Mean sigmoid gate | {stats['mean']:.3f} |
| Std | {stats['std']:.3f} |
| Min / Max | {stats['min']:.3f} / {stats['max']:.3f} |
| Below {stats['default_threshold']} (knowledge neurons) | {stats['knowledge_neurons_at_default']:,} ({stats['fraction_masked_at_default']:.1%}) |

## Selected thresholds

| Threshold | Neurons masked | Role |
|---|---|---|
{rows}

## Training setup

- Base model: {meta.get('base_model')} (variant `{meta.get('variant')}`)
- Forget data: entity-masked knowledge text ({meta.get('data', {}).get('name', '?')}: {meta.get('num_forget_examples', '?')} examples)
- Reasoning data: {meta.get('num_retain_blocks', '?')} packed blocks of {meta.get('data', {}).get('seq_len', '?')} tokens
- Loss: λ_f · softplus(β − entity_CE) on forget + λ_r · T²·KL(base ‖ gated) on reasoning
- Hyperparameters: β={hp.get('beta')}, λ_f={hp.get('lambda_forget')}, λ_r={hp.get('lambda_retain')}, distill T={hp.get('temperature')},
  forget_retain_ratio=1:{hp.get('retain_per_forget')}, lr={hp.get('optimizer', {}).get('lr')}, cosine, {hp.get('epochs')} epochs
- Steps: {meta.get('steps')}, world size {meta.get('world_size')}, seed {meta.get('seed')}, git {meta.get('git_commit')}
"""
    if evaluation_table:
        text += f"\n## Evaluation\n\n{evaluation_table}\n"
    text += USAGE
    return model_card(text, base_model=meta.get("base_model"), library_name="pytorch",
                      tags=["qwen3", "lambda-gates", "knowledge-neurons", "interpretability"])
