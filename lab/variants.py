"""Norm-ablation variants: replace Qwen3RMSNorm submodules of a stock Qwen3 model in place.

A variant is ``(sites, replacement)``: every RMSNorm at one of the named sites becomes ``replacement``
(see :mod:`lab.norms`). Sites, by qualified-name suffix, for a model with L layers:

- ``qk``:    ``layers.*.self_attn.q_norm`` and ``k_norm``          (2L norms)
- ``layer``: ``layers.*.input_layernorm`` and ``post_attention_layernorm`` (2L norms)
- ``final``: ``model.norm``                                          (1 norm)

Qwen3-0.6B (L=28) has 4·28 + 1 = 113 RMSNorms. The stock module classes stay everywhere else, so
checkpoint keys of untouched modules, ``_no_split_modules`` and generation keep working.
"""

from collections import Counter
from dataclasses import dataclass, field

from omegaconf import OmegaConf
from torch import nn

from lab.errors import UserError
from lab.norms import replacement_for

SITES: dict[str, tuple[str, ...]] = {
    "qk": ("self_attn.q_norm", "self_attn.k_norm"),
    "layer": ("input_layernorm", "post_attention_layernorm"),
    "final": ("model.norm",),
}
RMSNORM_CLASS = "Qwen3RMSNorm"


@dataclass(frozen=True)
class Variant:
    """Which RMSNorm sites a variant touches and what it puts there (``none`` for the control)."""

    name: str
    sites: tuple[str, ...] = field(default_factory=tuple)
    replacement: str = "none"

    def __post_init__(self) -> None:
        unknown = [s for s in self.sites if s not in SITES]
        if unknown:
            raise ValueError(f"variant {self.name!r}: unknown sites {unknown}; valid: {sorted(SITES)}")
        if self.sites and self.replacement != "none":
            replacement_for(self.replacement)  # raises with the valid list

    @classmethod
    def from_config(cls, cfg: dict) -> "Variant":
        return cls(name=str(cfg["name"]), sites=tuple(cfg.get("sites") or ()), replacement=str(cfg.get("replacement", "none")))

    @classmethod
    def from_run_config(cls, variant_cfg) -> "Variant":
        """The variant of a composed run config (``cfg.variant``); a malformed one is a :class:`UserError`."""
        try:
            return cls.from_config(OmegaConf.to_container(variant_cfg, resolve=True))
        except (KeyError, ValueError) as err:
            raise UserError(f"bad variant config: {err}") from None

    def describe(self) -> str:
        """One sentence: which RMSNorms the variant replaces, and by what."""
        if not self.sites or self.replacement == "none":
            return "The stock Qwen3 architecture (every RMSNorm kept): the control."
        where = "; ".join(f"{site}: {', '.join(SITES[site])}" for site in self.sites)
        what = "removed (identity)" if self.replacement == "identity" else f"replaced by `{self.replacement}`"
        return f"Every RMSNorm at {where} is {what}; all other modules are the stock Qwen3 ones."

    def to_dict(self) -> dict:
        return {"name": self.name, "sites": list(self.sites), "replacement": self.replacement}


def _site_of(qualified_name: str) -> str | None:
    for site, suffixes in SITES.items():
        if any(qualified_name == s or qualified_name.endswith("." + s) for s in suffixes):
            return site
    return None


def apply_variant(model: nn.Module, variant: Variant) -> int:
    """Replace the RMSNorms at ``variant.sites`` in place; return how many were replaced.

    Raises if a named site matched nothing, so a variant never silently does nothing.
    """
    if not variant.sites or variant.replacement == "none":
        return 0
    build = replacement_for(variant.replacement)
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if type(module).__name__ == RMSNORM_CLASS and _site_of(name) in variant.sites
    ]
    seen_sites = {_site_of(name) for name, _ in targets}
    missing = set(variant.sites) - seen_sites
    if missing:
        raise ValueError(f"variant {variant.name!r}: no RMSNorm found at sites {sorted(missing)}")
    for name, module in targets:
        model.set_submodule(name, build(module))
    return len(targets)


def count_norms(model: nn.Module) -> dict[str, int]:
    """Number of norm modules by class name (``Identity`` counts the removed ones)."""
    norm_like = {RMSNORM_CLASS, "Identity", "L2Norm", "LayerNorm", "ScaleNorm", "DynamicTanh"}
    counts = Counter(type(m).__name__ for name, m in model.named_modules() if _site_of(name) and type(m).__name__ in norm_like)
    return dict(sorted(counts.items()))
