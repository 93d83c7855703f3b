"""Train lambda gates on a frozen Qwen3 and export them in the seed's file formats.

    python -m gates.train                                   # tiny reference model + bundled corpus (trained first if missing)
    python -m gates.train model=qwen3_0.6b data=popqa_numina trainer=gpu
    python -m gates.train -m gates.beta=2,4,8               # a sweep, one folder per job
    python -m gates.train -m variant=original,no_qk_norm trainer=ddp trainer.devices=2 trainer.accelerator=cpu

Writes the seed's files (``lambda_logits.pt``, ``neuron_indices.json``, ``gate_stats.json``,
``selected_thresholds.txt``) and a card, metadata, metrics and plots into the job's folder (docs/gates.md).

Rerunning the same command in the same folder (``hydra.run.dir=``, or the same sweep dir) skips a finished
run and resumes an interrupted one from its latest checkpoint (see :mod:`lab.runs.resume`).
"""

import lightning as L
from omegaconf import DictConfig

from gates.export import export, failed_entry, log_gate_histogram, print_gate_summary, run_entry, run_metadata
from gates.gated_ffn import patch_gates
from gates.module import GateTrainingModule
from lab.config.command import hydra_cli
from lab.config.registry import TypedConfig
from lab.model import build_model, weights_dtype
from lab.train.run import Parts, Recipe, RunContext, recipe_main, recipe_train
from lab.train.trainer import resolve_precision

SUMMARY_FILE = "all_gate_runs.json"


class GateTraining(Recipe):
    """The gate recipe: a frozen model with a sigmoid gate per FFN neuron, only the λ trained (:mod:`gates.module`);
    exports the seed's files into the job's folder."""

    entry_module = "gates.train"
    summary_file = SUMMARY_FILE
    history_prefixes = ("train/", "gates/")

    def finished_entry(self, ctx: RunContext) -> dict:
        return {"gates_dir": str(ctx.folder), **super().finished_entry(ctx)}

    def build(self, ctx: RunContext) -> Parts:
        cfg, typed, tokenizer = ctx.cfg, ctx.typed, ctx.tokenizer
        variant = typed.variant
        precision = resolve_precision(typed.trainer.precision, typed.trainer.accelerator)
        # the base model is frozen: no fp32 masters needed, load it in the precision's 16-bit type if it has one
        model = build_model(cfg.model, variant, vocab_size=len(tokenizer), dtype=weights_dtype(precision, trains_weights=False))
        patch_gates(model, typed.gates.init_logit, typed.gates.free_fraction, typed.run.seed)
        model.train()
        return Parts(model, GateTrainingModule(model, typed.gates), extra={"variant": variant})

    def keep_optimizer_state(self, typed: TypedConfig) -> bool:
        return True  # AdamW's state is λ-sized (kilobytes): the gates can be continued

    def result(self, ctx: RunContext, parts: Parts, trainer: L.Trainer) -> dict:
        return run_entry(ctx, trainer)

    def export(self, ctx: RunContext, parts: Parts, entry: dict) -> None:
        stats = export(ctx.folder, parts.model, run_metadata(ctx, parts, entry), ctx.history, ctx.datamodule.split)
        entry.update(mean_gate=stats["mean"], knowledge_neurons=stats["knowledge_neurons_at_default"])
        log_gate_histogram(ctx.logger, parts.model)

    def failure_entry(self, ctx: RunContext, trainer: L.Trainer | None, err: BaseException) -> dict:
        return failed_entry(ctx, err)

    def print_summary(self, cfg: DictConfig, entry: dict) -> None:
        print_gate_summary(entry)


RECIPE = GateTraining()
train_gates = recipe_train(RECIPE)  # train_gates(cfg): gate the model, train the λ, export the seed's files
main = recipe_main(RECIPE, "gates_train")


if __name__ == "__main__":
    hydra_cli(main)
