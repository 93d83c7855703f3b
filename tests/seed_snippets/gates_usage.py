# The usage code of the seed card (../shared/seeds/000_7769215eaaaac579.txt), verbatim.
import torch, json
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen3-0.6B", torch_dtype=torch.bfloat16)

# Load gate logits
gate_state = torch.load("lambda_logits.pt", map_location="cpu")
# Keys look like: module.model.layers.<i>.mlp.lambda_logits

# Option 1: Hard masking via neuron_indices at a chosen threshold
with open("neuron_indices.json") as f:
    knowledge_neurons = json.load(f)  # {"layer_idx": [n_idx, ...]}

for layer_idx, neuron_idxs in knowledge_neurons.items():
    layer = model.model.layers[int(layer_idx)]
    with torch.no_grad():
        layer.mlp.gate_proj.weight[neuron_idxs, :] = 0
        layer.mlp.up_proj.weight[neuron_idxs, :] = 0
