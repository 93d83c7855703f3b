"""Norm-ablation variants: replace Qwen3RMSNorm submodules of a stock Qwen3 model in place.

A variant is ``(sites, replacement)``: every RMSNorm at one of the named sites becomes ``replacement``
(see :mod:`lab.model.norms`). Sites, by qualified-name suffix, for a model with L layers:

- ``qk``:    ``layers.*.self_attn.q_norm`` and ``k_norm``          (2L norms)
- ``layer``: ``layers.*.input_layernorm`` and ``post_attention_layernorm`` (2L norms)
- ``final``: ``model.norm``                                          (1 norm)

Qwen3-0.6B (L=28) has 4·28 + 1 = 113 RMSNorms. The stock module classes stay everywhere else, so
checkpoint keys of untouched modules, ``_no_split_modules`` and generation keep working.

``options`` are keyword arguments of the replacement's carry-over rule (``from_rmsnorm``); a value may be
one number for every norm or a map by *role*, the norm's place in the block: ``qk`` (q_norm, k_norm),
``attn`` (input_layernorm, before attention), ``ffn`` (post_attention_layernorm, before the MLP) and
``final`` (model.norm). ``embedding_scale`` (``sqrt_d`` or a number) adds a learnable scalar after the
token embedding (:mod:`lab.model.embedding_scale`).

``carry_over`` says how a replacement gets its parameters: ``rule`` (its ``from_rmsnorm``) or, for DyT, ``fit``
(:mod:`lab.model.norms.dyt_fit`: α, γ, β fitted per site to the RMSNorm's outputs on ``calibration_rows`` training
blocks, a function-preserving surgery; the errors go to ``model.norm_fit_errors``). Loading a saved artifact
passes no calibration data and uses the rule: its saved weights replace the carried-over ones anyway.
"""

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

from lab.config.checks import integer
from lab.config.errors import UserError
from lab.model.embedding_scale import scale_embeddings
from lab.model.norm_sites import (
    RMSNORM_CLASS,
    ROLES,
    SITES,
    norm_targets,
    options_for,
    patch_norms,
    role_of,
    site_of,
)
from lab.model.norms import REPLACEMENTS, built_class, replacement_for, replacement_options
from lab.model.norms.dyt_fit import capture_inputs, fit_dyt

CARRY_OVERS = ("rule", "fit")



@dataclass
class Variant:
    """A norm ablation, the typed ``variant`` node of a run's config (``conf/variant/*.yaml``) and the spec
    :func:`apply_variant` takes: every RMSNorm at ``sites`` (qk, layer, final) becomes ``replacement`` (none,
    identity, dyt, l2norm, layernorm, scalenorm) with its ``options``; ``embedding_scale`` puts a learnable scalar
    after the embedding; ``carry_over`` is how a surgery sets the new norm's parameters (rule, or fit on
    ``calibration_rows`` training blocks). ``none`` (or no sites) is the control. A malformed variant raises
    ``ValueError`` (a :class:`UserError` from a composed config, :func:`lab.config.registry.validate`)."""

    name: str = "original"
    sites: list[str] = field(default_factory=list)
    replacement: str = "none"
    options: dict[str, Any] = field(default_factory=dict)
    embedding_scale: Any = None  # null, sqrt_d or a number
    carry_over: str = "rule"
    calibration_rows: int = 16

    def __post_init__(self) -> None:
        self.sites = list(self.sites)
        if not integer(1)(self.calibration_rows):
            raise ValueError(f"variant {self.name!r}: calibration_rows={self.calibration_rows!r}; valid: a positive integer")
        if self.carry_over not in CARRY_OVERS:
            raise ValueError(f"variant {self.name!r}: carry_over={self.carry_over!r}; valid: {', '.join(CARRY_OVERS)}")
        if self.carry_over == "fit" and self.replacement != "dyt":
            raise ValueError(f"variant {self.name!r}: carry_over=fit fits DyT's parameters; {self.replacement} has no fit")
        unknown = [s for s in self.sites if s not in SITES]
        if unknown:
            raise ValueError(f"variant {self.name!r}: unknown sites {unknown}; valid: {sorted(SITES)}")
        if self.sites and self.replacement != "none":
            accepted = replacement_options(self.replacement)  # raises with the valid list
            extra = sorted(set(self.options) - accepted)
            if extra:
                raise ValueError(f"variant {self.name!r}: {self.replacement} takes no option {extra}; valid: {sorted(accepted) or 'none'}")
            for key, value in self.options.items():
                if isinstance(value, dict) and not set(value) <= set(ROLES.values()):
                    raise ValueError(f"variant {self.name!r}: options.{key} has roles {sorted(set(value) - set(ROLES.values()))}; "
                                     f"valid: {sorted(set(ROLES.values()))}")
        if self.embedding_scale not in (None, "sqrt_d") and not isinstance(self.embedding_scale, (int, float)):
            raise ValueError(f"variant {self.name!r}: embedding_scale={self.embedding_scale!r}; valid: null, sqrt_d or a number")

    @classmethod
    def from_config(cls, cfg: dict) -> "Variant":
        """A variant from its config or saved spec (:meth:`to_dict` leaves out what is at its default)."""
        names = {f.name for f in fields(cls)}
        spec = {k: v for k, v in cfg.items() if k in names}
        return cls(**{**spec, "name": str(cfg["name"]), "sites": list(spec.get("sites") or ()), "options": dict(spec.get("options") or {})})

    @classmethod
    def from_run_config(cls, variant_cfg) -> "Variant":
        """The variant of a composed run config (``cfg.variant``, typed or not); a malformed one is a :class:`UserError`."""
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
        options = f" with {self.options}" if self.options else ""
        scale = f"; the embeddings are scaled by a learnable scalar (init {self.embedding_scale})" if self.embedding_scale else ""
        return f"Every RMSNorm at {where} is {what}{options}{scale}; all other modules are the stock Qwen3 ones."

    def options_for(self, role: str) -> dict[str, Any]:
        """The replacement's keyword arguments for a norm of ``role``: per-role maps resolved."""
        return options_for(self.options, role, self.name)

    def to_dict(self) -> dict:
        spec = {"name": self.name, "sites": list(self.sites), "replacement": self.replacement}
        if self.options:
            spec["options"] = self.options
        if self.embedding_scale is not None:
            spec["embedding_scale"] = self.embedding_scale
        if self.carry_over != "rule":
            spec["carry_over"], spec["calibration_rows"] = self.carry_over, self.calibration_rows
        return spec


def apply_variant(model: nn.Module, variant: Variant, calibration_ids: torch.Tensor | None = None) -> int:
    """Replace the RMSNorms at ``variant.sites`` in place (and scale the embeddings if the variant says so);
    return how many norms were replaced. With ``carry_over=fit`` and ``calibration_ids`` [B, T], each DyT is
    fitted to its RMSNorm's outputs on the inputs that site receives in the unpatched model.

    Raises if a named site matched nothing, so a variant never silently does nothing.
    """
    if variant.carry_over != "fit" or calibration_ids is None:
        return patch_norms(model, variant.to_dict(), replacement_for, scale_embeddings)
    if variant.embedding_scale is not None:
        scale_embeddings(model, variant.embedding_scale)
    targets = norm_targets(model, variant.sites, variant.name)
    inputs = capture_inputs(model, [name for name, _ in targets], calibration_ids)
    errors = {}
    for name, module in targets:
        options = variant.options_for(role_of(name))
        replacement, errors[name] = fit_dyt(module, inputs[name], **{k: bool(v) for k, v in options.items() if k == "bias"})
        model.set_submodule(name, replacement)
    model.norm_fit_errors = errors
    return len(targets)


def count_norms(model: nn.Module) -> dict[str, int]:
    """Number of norm modules by class name (``Identity`` counts the removed ones): the stock RMSNorm and every class
    the replacement registry builds (:func:`lab.model.norms.built_class`)."""
    norm_like = {RMSNORM_CLASS, *(built_class(kind) for kind in REPLACEMENTS)}
    counts = Counter(type(m).__name__ for name, m in model.named_modules() if site_of(name) and type(m).__name__ in norm_like)
    return dict(sorted(counts.items()))
