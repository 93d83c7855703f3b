"""The rotary tables through one op: the stock values, a well-formed custom op, and one node in the compiled graph."""

from copy import deepcopy

import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from transformers.models.qwen3.modeling_qwen3 import Qwen3RotaryEmbedding

from lab.train.rotary_tables import rotary_cos_sin, tabulate_rotary


def config(**rope) -> Qwen3Config:
    return Qwen3Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       head_dim=8, vocab_size=300, rope_parameters={"rope_theta": 10_000.0, **rope})


@pytest.mark.parametrize("rope", [{"rope_type": "default"}, {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}])
def test_tabulated_rotary_tables_equal_the_stock_ones(rope):
    stock, tabulated = Qwen3RotaryEmbedding(config(**rope)), Qwen3RotaryEmbedding(config(**rope))
    assert tabulate_rotary(tabulated) and "forward" in vars(tabulated)
    x = torch.randn(2, 5, 32)
    for positions in (torch.arange(5)[None], torch.arange(7, 12).expand(2, 5)):
        for got, want in zip(tabulated(x, positions), stock(x, positions), strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    copy = deepcopy(tabulated)
    copy.inv_freq.mul_(2)
    torch.testing.assert_close(copy(x, positions)[0], Qwen3RotaryEmbedding(config(**rope))(x, 2 * positions)[0], rtol=0, atol=1e-5)
    if rope["rope_type"] == "yarn":
        assert tabulated.attention_scaling != 1.0  # the scaling is applied, not assumed to be 1


def test_rope_types_that_rescale_per_call_are_left_alone():
    dynamic = Qwen3RotaryEmbedding(config(rope_type="dynamic", factor=2.0))
    assert not tabulate_rotary(dynamic) and "forward" not in vars(dynamic)


def test_the_op_is_well_formed_and_one_node_of_the_compiled_graph():
    torch.library.opcheck(rotary_cos_sin, (torch.arange(6)[None], torch.rand(4), 1.0))
    model = Qwen3ForCausalLM(config()).float()
    tabulate_rotary(model.model.rotary_emb)
    graphs = []

    def recorder(gm: torch.fx.GraphModule, inputs):
        graphs.append(gm)
        return gm.forward

    ids = torch.randint(0, 300, (2, 16))
    compiled = torch.compile(model.model.forward, backend=recorder)(input_ids=ids).last_hidden_state
    torch.testing.assert_close(compiled, model.model(input_ids=ids).last_hidden_state)
    calls = [n for g in graphs for n in g.graph.nodes if n.target is torch.ops.lab.rotary_cos_sin.default]
    assert len(graphs) == 1 and len(calls) == 1
    assert not [n for n in graphs[0].graph.nodes if n.target in ("cos", "sin", torch.cos, torch.sin)]  # stock: .cos(), .sin()
