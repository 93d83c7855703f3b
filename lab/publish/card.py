"""The model card at the root of an upload. A gate run and a vindex carry their own (``README.md``, in the layout);
an ablation run or sweep gets one here: its runs, the stages uploaded, the weights' dtype, how to load a variant with
stock transformers, and the sweep's lm-evaluation-harness table when it has one."""

from pathlib import Path

from huggingface_hub import ModelCard

from lab.report.cards import model_card
from lab.runs.artifacts import read_json

SUMMARY_FILE = "all_train_metrics.json"  # an ablation run's or sweep's summary (its folder kind's marker)


def root_card(folder: Path, layout: dict[str, Path], stages: list[str], dtype: str | None) -> str | None:
    """The root ``README.md`` for an ablation run's or sweep's upload; None for a layout that is a folder at the root (a
    gate run, a vindex: their own card goes with them)."""
    if "" in layout:
        return None
    entries = read_json(Path(folder) / SUMMARY_FILE) if (Path(folder) / SUMMARY_FILE).is_file() else {}
    runs = [name for name in layout if name.endswith("_finetuned")]
    rows = ["| run | variant | status | final val loss | folders |", "|---|---|---|---|---|"]
    for finetuned in runs:
        name = finetuned.removesuffix("_finetuned")
        entry = entries.get(name, {})
        loss = entry.get("final_val_loss")
        shown = ", ".join(f"`{name}{'' if s == 'base' else '_finetuned'}/`" for s in stages)
        rows.append(f"| {name} | {entry.get('variant', '?')} | {entry.get('status', '?')} | "
                    f"{'n/a' if loss is None else f'{loss:.4f}'} | {shown} |")
    comparison = Path(folder) / "lm_eval" / "comparison.md"
    body = "\n\n".join([
        f"# {Path(folder).name}: Qwen3 normalization ablations",
        "Seed 001's layout: each run's base stage (the patched architecture before training) in `<run>/`, the trained "
        f"model in `<run>_finetuned/`, every run's summary in `{SUMMARY_FILE}`. Weights: "
        f"{'as trained' if dtype is None else f'{dtype}, converted for the upload; lm-eval scores were computed before the conversion (their names say in which dtype)'}.",
        "\n".join(rows),
        "Each folder loads with one stock call; a variant other than `original` ships its norms' code:\n\n```python\n"
        "from transformers import AutoModelForCausalLM\n"
        "model = AutoModelForCausalLM.from_pretrained(\"<repo>\", subfolder=\"<run>_finetuned\", trust_remote_code=True)\n```",
        *(["## lm-evaluation-harness", comparison.read_text().strip()] if comparison.is_file() else []),
    ])
    results = stage_eval_results(folder, [name for name in layout if stages_of(name) in stages], dtype)
    return model_card(body + "\n", base_model=None, library_name="transformers", pipeline_tag="text-generation",
                      tags=["qwen3", "norm-ablation", "qwen3-internals"], model_name=Path(folder).name, eval_results=results)


def stages_of(name: str) -> str:
    """``finetuned`` for ``<run>_finetuned``, else ``base`` (a layout entry of an ablation upload)."""
    return "finetuned" if name.endswith("_finetuned") else "base"


def stage_eval_results(folder: Path, names: list[str], dtype: str | None = None) -> list:
    """Every uploaded stage's lm-eval scores (its card's ``model-index``, written by ``lab.evaluate.lm_eval``), each
    metric named with its folder (``acc (original_finetuned)``): one repo is one ``model-index`` on the Hub. A score
    computed in another dtype than the uploaded weights' (``dtype``, else as stored) says so (``acc (original_finetuned,
    scored in float32, uploaded in bfloat16)``), so a score is never read as the uploaded weights' own."""
    from dataclasses import replace

    results = []
    for name in names:
        stage = Path(folder) / name
        if not (stage / "README.md").is_file():
            continue
        scored, uploaded = scored_dtype(stage), dtype or stored_dtype(stage)
        label = name
        if scored is not None and uploaded is not None and scored != uploaded:
            label = f"{name}, scored in {scored}, uploaded in {uploaded}"
        elif scored is None and dtype is not None:
            label = f"{name}, scored before the conversion to {dtype}"
        results += [replace(r, metric_name=f"{r.metric_name or r.metric_type} ({label})")
                    for r in ModelCard.load(stage / "README.md").data.eval_results or []]
    return results


SAFETENSORS_DTYPES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "F64": "float64"}


def stored_dtype(stage: Path) -> str | None:
    """The dtype of a stage's weights: its ``config.json``'s ``dtype`` (or the older ``torch_dtype``), else that of the
    first floating tensor in its ``model.safetensors`` header; None when neither says."""
    from safetensors import safe_open

    path, weights = Path(stage) / "config.json", Path(stage) / "model.safetensors"
    config = read_json(path) if path.is_file() else {}
    recorded = config.get("dtype") or config.get("torch_dtype")
    if recorded:
        return str(recorded)
    if weights.is_file():
        with safe_open(str(weights), "pt") as f:
            found = (SAFETENSORS_DTYPES.get(f.get_slice(name).get_dtype()) for name in f.keys())
            return next((d for d in found if d is not None), None)
    return None


def scored_dtype(stage: Path) -> str | None:
    """The dtype lm-eval scored ``stage`` in: ``config.model_dtype`` of its ``lm_eval/results.json`` (``torch.float32``
    → ``float32``); None when it is not recorded."""
    path = Path(stage) / "lm_eval" / "results.json"
    recorded = str((read_json(path).get("config") or {}).get("model_dtype") or "") if path.is_file() else ""
    return recorded.removeprefix("torch.") or None


def check_card(text: str) -> ModelCard:
    """``text`` parsed as a Hub model card (front matter and body), as ``huggingface_hub`` reads it."""
    return ModelCard(text)
