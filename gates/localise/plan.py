"""What ``python -m gates.localise`` will cost, before it runs: ``python -m lab.plan --config-name gates_benchmark
[benchmark overrides]`` (``plan_composite:`` in conf/gates_benchmark.yaml names :func:`benchmark_plan`).

Per seed the benchmark trains the gate runs, grades S models at ``budget`` and attacks them, and grades S − 1
more (no unedited one) at each further share of ``budgets``: B graded budgets in all. Three parts, each planned as
a row of :mod:`lab.plan`'s table:

- **gate runs**: ``gates.train`` with ``train``'s overrides, and the trained random control
  (``gates.free_fraction=<share>``) at each graded budget, each planned by :func:`lab.plan.plan_job` (1 + B per
  seed);
- **relearning**: every weight fine-tuned (fp32, as :mod:`gates.localise.relearn` trains) for max(``relearn.steps``) steps of
  ``relearn.batch_size`` × T tokens (T: the gate runs' ``data.seq_len``) per attack and setting, R runs in all:
  FLOPs = (6 · N_matmul + 6 · L · T · d_attn) · tokens, its memory a full fine-tune's (:mod:`lab.plan.memory`);
- **grading**: forward passes only, 2 · N_matmul FLOPs per token (KV-cached greedy generation):
  every setting grades F = ``data.eval_limit`` facts (or all the source's, read here where it can be) at (P + ``max_new_tokens.knowledge``) tokens
  twice (asked and as statements), the reasoning rows at (P_r + ``max_new_tokens.reasoning``), and the probe reads
  the forget relation's facts at P; each
  relearning curve grades the forget facts once per step count. P = 32 and P_r = 128 prompt tokens are stated
  estimates (the bundled prompts are shorter); lm-eval ``tasks`` are not priced.

S = 1 (unedited) + the gate methods' ``modes`` + one hard edit for each other method + ``random_draws`` + the rank-1
DELETE; R = S · attacks, less the unedited model's frozen attack (the same as its free one) and the rank-1 edit's
(not a down_proj edit: nothing to freeze).

On CPU the seeds run at once, one process each (``workers``; on a GPU one at a time): the memory of each row is one
process's, and the relearning row says how many run at once.
"""

from typing import Any

from hydra import compose
from omegaconf import DictConfig

from gates.schema import graded_budgets, seed_workers
from lab.config.errors import UserError
from lab.plan import architecture, gpu_hours, plan_job
from lab.plan.memory import Job, predict_memory

PROMPT_TOKENS, REASONING_PROMPT_TOKENS = 32, 128
GATE_METHODS = ("gates", "trained_random")
NO_DISK = {"stage_bytes": 0, "final_checkpoint_bytes": 0, "finished_bytes": 0, "during_run_bytes": 0}


def known_facts(data: DictConfig) -> int | None:
    """How many facts the knowledge sources hold, where they can be read here (bundled or local); else None."""
    from gates.data import load_gate_rows

    try:
        return len(load_gate_rows(data).knowledge)
    except UserError:
        return None


def settings_per_seed(cfg: DictConfig) -> int:
    """S of the module docstring (methods without gate values have a hard edit only; ``gate3_delete`` its rank-1 one)."""
    methods, hard = list(cfg.methods), "hard" in cfg.modes
    gated = sum(m in GATE_METHODS for m in methods) * len(cfg.modes)
    others = sum(m not in (*GATE_METHODS, "random", "gate3_delete") for m in methods) + (cfg.random_draws if "random" in methods else 0)
    return 1 + gated + others * hard + ("gate3_delete" in methods)


def benchmark_plan(cfg: DictConfig, options: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs of the benchmark ``cfg`` as :func:`lab.plan.plan` lists them: its three parts (module docstring)."""
    seeds, budgets = len(cfg.seeds), graded_budgets(cfg)
    train = [*cfg.train, f"paths.runs={cfg.paths.runs}"]
    gate_runs = [train] + ([[*train, f"gates.free_fraction={b}"] for b in budgets] if "trained_random" in cfg.methods else [])
    jobs = []
    for overrides in gate_runs:
        entry = plan_job(compose(config_name="gates_train", overrides=overrides), options["gpus"])
        for key in ("flops", "tokens"):
            entry[key] = entry[key] * seeds if entry[key] else None
        jobs.append({"overrides": [f"gates.train x{seeds} seeds", *overrides], **entry})
    gate = compose(config_name="gates_train", overrides=gate_runs[0])
    config, first = architecture(gate.model), jobs[0]
    matmul = first["params"] - first["embedding_params"] + (config.vocab_size * config.hidden_size if config.tie_word_embeddings else 0)
    seq, steps, batch = gate.data.seq_len, max(cfg.relearn.steps), cfg.relearn.batch_size
    settings, attacks = settings_per_seed(cfg), list(cfg.relearn.attacks)
    frozen = "held_out_frozen" in attacks
    runs = settings * len(attacks) - (frozen and "held_out" in attacks) - (frozen and "gate3_delete" in cfg.methods)
    relearn_tokens = seeds * runs * steps * batch * seq
    per_token = 6 * matmul + 6 * config.num_hidden_layers * seq * config.num_attention_heads * config.head_dim
    knowledge, reasoning = cfg.max_new_tokens.knowledge, cfg.max_new_tokens.reasoning
    facts = gate.data.get("eval_limit") or known_facts(gate.data)
    models = settings + (len(budgets) - 1) * (settings - 1)  # graded models per seed
    graded = None if facts is None else seeds * (
        models * (int(facts) * (3 * PROMPT_TOKENS + 2 * knowledge) + gate.data.val_docs * (REASONING_PROMPT_TOKENS + reasoning))
        + runs * len(cfg.relearn.steps) * int(facts) * (PROMPT_TOKENS + knowledge))  # a curve grades the forget facts, at most all
    full = Job(first["params"], matmul, first["params"], batch * seq, batch * seq, "32-true", False, first["memory"]["device"] == "gpu")
    common = {"model": first["model"], "params": first["params"], "embedding_params": first["embedding_params"], "disk": NO_DISK}
    at_once = seed_workers(cfg, seeds, gpu=first["memory"]["device"] == "gpu")  # each holds its own model
    jobs.append({"overrides": [f"relearning: {runs}x{steps} steps x{seeds} seeds, {at_once} at once",
                               *cfg.train], "variant": "relearn",
                 **common, "tokens": relearn_tokens, "flops_per_token": per_token, "flops": per_token * relearn_tokens,
                 "memory": predict_memory(config, full)})
    later_draws = (cfg.random_draws - 1) * ("random" in cfg.methods and "hard" in cfg.modes)  # saved: the first draw only
    saved = settings - 1 - later_draws if cfg.save_edits else 0
    edits = seeds * saved * first["params"] * 4  # save_edits: one fp32 copy of the weights per edited model
    jobs.append({"overrides": [f"grading: {models} settings x{seeds} seeds", *cfg.train], "variant": "grade", **common,
                 "disk": {**NO_DISK, "stage_bytes": first["params"] * 4 if saved else 0, "finished_bytes": edits, "during_run_bytes": edits},
                 "tokens": graded, "flops_per_token": 2 * matmul, "flops": 2 * matmul * graded if graded else None,
                 "memory": first["memory"]})
    for job in jobs:
        job["gpu_hours"] = gpu_hours(job["flops"], options["mfu"])
    return jobs
