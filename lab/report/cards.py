"""Hugging Face model cards: the YAML front matter written by ``huggingface_hub`` (``ModelCardData``), the body by
the tool that owns the folder (``ablations.card``, ``gates.card``, ``gates.apply``)."""

from huggingface_hub import ModelCard, ModelCardData


def hub_id(base_model: str | None) -> str | None:
    """``base_model`` when it is a hub id (``owner/name``); None for a local folder or nothing (the hub's
    ``base_model`` field takes hub ids only)."""
    base = str(base_model or "")
    return base if base.count("/") == 1 and not base.startswith((".", "/", "~")) else None


def model_card(body: str, *, base_model: str | None, library_name: str | None, tags: list[str],
               pipeline_tag: str | None = None, license: str = "apache-2.0", model_name: str | None = None,
               eval_results: list | None = None) -> str:
    """``README.md`` text: front matter (``license``, base model if a hub id, library, pipeline, tags, model name, and
    ``eval_results`` as its ``model-index``, which needs ``model_name``), then ``body``."""
    data = ModelCardData(license=license, base_model=hub_id(base_model), library_name=library_name,
                         pipeline_tag=pipeline_tag, tags=tags, model_name=model_name, eval_results=eval_results or None)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n{body}"))
