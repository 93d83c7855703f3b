"""``python -m ablations.dyt_check``: DyT at the final norm, reproduced outside the suite.

An independent check that ``replace_dyt``'s failure to learn on the tiny model is not a bug of ours: the
stock ``transformers`` Qwen3 at the tiny model's size, trained by a plain PyTorch loop (AdamW, the suite's
betas, weight decay and clipping; no Lightning, no ``lab`` model code, no chunked loss) on the bundled
arithmetic text, with ``model.norm`` replaced by a DyT written here from the paper's equation,
``γ ⊙ tanh(α x) + β`` (α₀ = 0.5), against two controls: the stock RMSNorm kept, and the identity (no final
norm). Prints, every 15 steps, the training loss and the RMS of the final norm's input, for each seed.

    python -m ablations.dyt_check                 # all three, seeds 0-2, 150 steps each (22 min measured on 2 cores with a study beside it)
    python -m ablations.dyt_check --steps 300 --lr 1e-3 --seeds 0
    python -m ablations.dyt_check --publish       # also docs/results/norm_study/dyt_check/dyt_check.json and the
                                                  # docs block <!-- study:dyt_check:table --> (make docs redraws it)

The published table gives, at steps 15, 60 and 150, the seed mean of the training loss and of the input RMS with
its 95 % Student-t interval over the seeds (:func:`lab.report.intervals.stat`).
"""

import argparse
import math

import pyarrow.parquet as pq
import torch
from torch import nn
from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

from ablations.study.dyt_check_table import KINDS, check_table
from lab.config import PROJECT_ROOT, asset_path
from lab.config.schema import OptimizerConfig, TrainerConfig
from lab.runs.artifacts import write_json

RESULT = PROJECT_ROOT / "docs" / "results" / "norm_study" / "dyt_check" / "dyt_check.json"


class PlainDyT(nn.Module):
    """``γ ⊙ tanh(α x) + β``, as the paper writes it."""

    def __init__(self, width: int, alpha: float) -> None:
        super().__init__()
        self.alpha, self.gamma, self.beta = nn.Parameter(torch.tensor(alpha)), nn.Parameter(torch.ones(width)), nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma * torch.tanh(self.alpha * x) + self.beta


def blocks(seq_len: int = 128) -> torch.Tensor:
    """The bundled arithmetic problems and solutions, tokenized and cut into blocks of ``seq_len``."""
    tokenizer = AutoTokenizer.from_pretrained(asset_path("tiny_tokenizer"))
    rows = pq.read_table(asset_path("tiny_corpus/numina/train.parquet")).to_pylist()
    documents = tokenizer([r["problem"] + " " + r["solution"] + "\n\n" for r in rows[:3000]])["input_ids"]
    ids = torch.tensor([i for doc in documents for i in doc])
    return ids[: len(ids) // seq_len * seq_len].view(-1, seq_len)


def train(final_norm: str, steps: int, lr: float, seed: int = 0, every: int = 15) -> list[tuple[int, float, float]]:
    """``[(step, loss, RMS of the final norm's input)]`` of a plain training loop (see the module docstring)."""
    data = blocks()
    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=1696, hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=32, tie_word_embeddings=True)
    model = Qwen3ForCausalLM(config)
    if final_norm != "rmsnorm":
        model.model.norm = PlainDyT(128, 0.5) if final_norm == "dyt" else nn.Identity()
    seen: dict[str, float] = {}
    model.model.norm.register_forward_pre_hook(lambda m, args: seen.__setitem__("rms", float(args[0].detach().pow(2).mean().sqrt())))
    recipe, clip = OptimizerConfig(), TrainerConfig().gradient_clip_val  # the suite's values only: this loop is plain torch
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=tuple(recipe.betas), weight_decay=recipe.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    trace = []
    for step in range(1, steps + 1):
        batch = data[torch.randint(0, len(data), (16,), generator=generator)]
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if step == 1 or step % every == 0 or step == steps:
            trace.append((step, loss.item(), seen["rms"]))
    return trace


def run_check(steps: int, lr: float, seeds: list[int], echo: bool = True) -> dict:
    """Every final norm of :data:`KINDS` trained for each seed: ``{"steps", "lr", "seeds", "traces": {kind: {seed:
    [[step, loss, rms], ...]}}}``, printing each trace as it ends when ``echo``."""
    traces: dict[str, dict[str, list]] = {}
    if echo:
        print(f"{'final norm':<10} {'seed':>4} {'step':>5} {'train loss':>10} {'final-norm input RMS':>21}")
    for kind in KINDS:
        for seed in seeds:
            trace = train(kind, steps, lr, seed)
            traces.setdefault(kind, {})[str(seed)] = [list(point) for point in trace]
            for step, loss, rms in trace if echo else ():
                print(f"{kind:<10} {seed:>4} {step:>5} {loss:>10.3f} {rms:>21.2f}" if math.isfinite(loss) else f"{kind:<10} {seed:>4} {step:>5} {'nan':>10}")
    return {"steps": steps, "lr": lr, "seeds": seeds, "traces": traces}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ablations.dyt_check", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--publish", action="store_true", help=f"write {RESULT.relative_to(RESULT.parents[3])} and the docs' block")
    args = parser.parse_args(argv)
    result = run_check(args.steps, args.lr, args.seeds)
    print(check_table(result))
    if args.publish:
        from ablations.study.publish import update_docs

        write_json(RESULT, result)
        print(f"wrote {RESULT}")
        for doc in update_docs():
            print(f"wrote {doc}")


if __name__ == "__main__":
    main()
