"""Train one norm-ablation variant of Qwen3 and write its artifacts (see :mod:`ablations.layout`).

    python -m ablations.train                                        # variant=original, tiny default, ~2 min on CPU
    python -m ablations.train variant=no_qk_norm trainer.max_steps=50 logger=csv
    python -m ablations.train -m 'variant=glob(*)'                   # the whole grid (make sweep)
    python -m ablations.train -m variant=original,no_qk_norm trainer=ddp trainer.devices=2 trainer.accelerator=cpu

Rerunning the same command in the same folder (``hydra.run.dir=`` / ``output_root=``, or the same sweep dir,
as ``make sweep`` does) skips finished variants and resumes an interrupted one from its latest checkpoint,
with the same optimizer, scheduler, data position, RNG state and W&B run (see :mod:`lab.runs.resume`).
"""

from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from ablations import entry, layout
from lab.config.command import hydra_cli
from lab.config.errors import UserError
from lab.model import build_model
from lab.runs.artifacts import read_json
from lab.runs.paths import job_dir
from lab.train.module import CausalLMModule
from lab.train.run import Parts, Recipe, RunContext, recipe_main, recipe_train


class NormAblation(Recipe):
    """The norm-ablation recipe: the variant patched into Qwen3 (from scratch or by surgery on a trained model),
    trained as a causal LM; writes the base and finetuned stages (:mod:`ablations.layout`)."""

    entry_module = "ablations.train"
    summary_file = layout.SUMMARY_FILE

    def folders(self, cfg: DictConfig, root: Path) -> tuple[Path, Path, tuple[Path, ...]]:
        finetuned = layout.finetuned_dir(root, str(cfg.run_name))
        return finetuned, job_dir(cfg, finetuned), (layout.base_dir(root, str(cfg.run_name)),)

    def check(self, cfg: DictConfig) -> None:
        if OmegaConf.select(cfg, "regime.name") == "surgery" and not cfg.model.pretrained:
            raise UserError(f"regime=surgery starts from a trained model, and model={cfg.model.name} has none; pass "
                            "model=tiny_reference, model=qwen3_0.6b or model.pretrained=<folder>")

    def finished_entry(self, ctx: RunContext) -> dict:
        return read_json(ctx.folder / "metadata.json").get("result") or {"status": "ok"}

    def build(self, ctx: RunContext) -> Parts:
        cfg = ctx.cfg
        variant, tokenizer, datamodule = ctx.typed.variant, ctx.tokenizer, ctx.datamodule
        calibration = datamodule.calibration_ids(variant.calibration_rows) if variant.carry_over == "fit" else None
        model = build_model(cfg.model, variant, vocab_size=len(tokenizer), calibration_ids=calibration)
        ctx.fields.update(entry.model_fields(model))
        module = CausalLMModule.from_run_config(model, tokenizer, ctx.typed, datamodule.eval_rows)
        base = layout.base_dir(ctx.root, ctx.name)
        callbacks = [layout.SaveBaseStage(base, layout.metadata(model, variant, cfg, ctx.typed.run.seed, stage="base"))]
        return Parts(model, module, callbacks, extra={"variant": variant})

    def result(self, ctx: RunContext, parts: Parts, trainer: L.Trainer) -> dict:
        return entry.run_entry(ctx, trainer)

    def export(self, ctx: RunContext, parts: Parts, result: dict) -> None:
        layout.write_train_metrics(ctx.folder, ctx.history.rows)
        meta = layout.metadata(parts.model, parts.extra["variant"], ctx.cfg, ctx.typed.run.seed, stage="finetuned",
                               result=result)
        layout.save_stage(ctx.folder, parts.model, meta, ctx.tokenizer)

    def failure_entry(self, ctx: RunContext, trainer: L.Trainer | None, err: BaseException) -> dict:
        return entry.failed_entry(ctx, trainer, err)

    def print_summary(self, cfg: DictConfig, result: dict) -> None:
        entry.print_ablation_summary(cfg, result)


RECIPE = NormAblation()
train = recipe_train(RECIPE)  # train(cfg): build the variant, train it, write both stages and the summary entry
main = recipe_main(RECIPE, "train")


if __name__ == "__main__":
    hydra_cli(main)
