"""An edited model written as a plain Hugging Face folder: ``config.json`` + ``model.safetensors`` (stock
``save_pretrained``), the tokenizer, ``metadata.json``, a model card and ``SHA256SUMS``, written whole or not at all.

Every edit the suite applies to a trained Qwen3 lives in its weights when it is written this way: a gate g on FFN
neuron j scales the input of ``down_proj``, so W_down (g ⊙ h) = (W_down · diag(g)) h folds it into column j (and a
hard gate, g = 0, into zero rows of ``gate_proj`` and ``up_proj``); Gate 3's rank-1 DELETE is W_gate ← W_gate − a vᵀ.
The folder then holds a stock ``Qwen3ForCausalLM`` that ``AutoModelForCausalLM.from_pretrained(folder)`` loads with
no remote code, and that vLLM, llama.cpp's converter or any other engine that runs Qwen3 runs as it is.
"""

from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lab.model.remote_code import write_remote_code
from lab.report.cards import model_card
from lab.runs.artifacts import atomic_dir, write_json
from lab.runs.checksums import write_sha256sums
from lab.runs.git import git_commit

LOAD_HINT = ("Plain Qwen3 weights, the edit folded in: `AutoModelForCausalLM.from_pretrained(folder)` loads it with stock "
             "transformers and no remote code, and any engine that runs Qwen3 runs it.")
VARIANT_HINT = ("The edit is folded into the weights of the norm-ablation variant `{variant}`, whose norms are not stock "
                "Qwen3's: `AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True)` loads it with the "
                "variant's code, shipped in the folder, or `ablations.load(folder)`.")


def write_model_folder(out: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase | None, metadata: dict,
                       title: str, body: str, base_model: str | None, tags: list[str], overwrite: bool = False,
                       variant_spec: dict | None = None) -> Path:
    """Write ``model`` (its edit already in its weights) to ``out`` as the module docstring says; ``metadata`` gains
    the git commit, the card says ``title``, ``body`` and how to load the folder (a variant other than ``original``,
    ``variant_spec``, is no stock Qwen3: its folder ships its custom code, :mod:`lab.model.remote_code`)."""
    variant = (variant_spec or {}).get("name", "original")
    hint = LOAD_HINT if variant == "original" else VARIANT_HINT.format(variant=variant)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        model.save_pretrained(str(tmp))
        if variant != "original":
            write_remote_code(tmp, variant_spec)
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp))
        write_json(tmp / "metadata.json", {**metadata, "git_commit": git_commit()})
        (tmp / "README.md").write_text(model_card(f"# {title}\n\n{body}\n\n{hint}\n", base_model=base_model,
                                                  library_name="transformers", pipeline_tag="text-generation", tags=tags))
        write_sha256sums(tmp)
    return out
