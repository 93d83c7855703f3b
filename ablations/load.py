"""Load an ablation artifact back: ``ablations.load(path)`` rebuilds the variant and loads it strictly."""

from pathlib import Path

from transformers import Qwen3Config, Qwen3ForCausalLM

from lab.artifacts import load_weights, read_json
from lab.errors import UserError
from lab.variants import Variant, apply_variant


def load(path: str | Path) -> Qwen3ForCausalLM:
    """The model saved in ``path`` (a ``<variant>`` or ``<variant>_finetuned`` folder), in eval mode.

    The architecture comes from ``config.json``, the norm patch from ``metadata.json``; weights are
    loaded with ``strict=True`` from ``model.safetensors`` (``model.pt`` via ``weights_only=True`` if absent).
    """
    folder = Path(path)
    if not (folder / "metadata.json").is_file() or not (folder / "config.json").is_file():
        raise UserError(f"{folder} is not an ablation artifact folder (needs metadata.json and config.json)")
    meta = read_json(folder / "metadata.json")
    config = Qwen3Config.from_json_file(str(folder / "config.json"))
    model = Qwen3ForCausalLM(config)
    apply_variant(model, Variant.from_config(meta["variant_spec"]))
    load_weights(model, folder, strict=True)
    return model.eval()
