"""Where a norm ablation acts in a Qwen3 model, and the patch that puts its norms there.

Torch only, no suite import: this module's source ships verbatim inside every ablation folder's
``modeling_qwen3_norm_ablation.py`` (:mod:`lab.model.remote_code`), so stock transformers rebuilds the same modules
the suite trained. Sites, by qualified-name suffix, for a model with L layers:

- ``qk``:    ``layers.*.self_attn.q_norm`` and ``k_norm``          (2L norms)
- ``layer``: ``layers.*.input_layernorm`` and ``post_attention_layernorm`` (2L norms)
- ``final``: ``model.norm``                                          (1 norm)

A norm's *role* is its place in the block: ``qk``, ``attn`` (before attention), ``ffn`` (before the MLP), ``final``;
an option of the replacement may be one value or a map by role.
"""

SITES: dict[str, tuple[str, ...]] = {
    "qk": ("self_attn.q_norm", "self_attn.k_norm"),
    "layer": ("input_layernorm", "post_attention_layernorm"),
    "final": ("model.norm",),
}
ROLES: dict[str, str] = {
    "self_attn.q_norm": "qk", "self_attn.k_norm": "qk", "input_layernorm": "attn", "post_attention_layernorm": "ffn",
    "model.norm": "final",
}
RMSNORM_CLASS = "Qwen3RMSNorm"


def name_matches(qualified_name: str, suffix: str) -> bool:
    return qualified_name == suffix or qualified_name.endswith("." + suffix)


def site_of(qualified_name: str) -> str | None:
    """The site (``qk``, ``layer``, ``final``) of a module by its qualified name, None outside every site."""
    for site, suffixes in SITES.items():
        if any(name_matches(qualified_name, s) for s in suffixes):
            return site
    return None


def role_of(qualified_name: str) -> str | None:
    """The norm's role (``qk``, ``attn``, ``ffn``, ``final``) by its qualified name, see :data:`ROLES`."""
    return next((role for suffix, role in ROLES.items() if name_matches(qualified_name, suffix)), None)


def options_for(options: dict, role: str, variant: str) -> dict:
    """The replacement's keyword arguments for a norm of ``role``: per-role maps resolved."""
    resolved = {}
    for key, value in options.items():
        if isinstance(value, dict):
            if role not in value:
                raise ValueError(f"variant {variant!r}: options.{key} has no value for role {role!r}")
            value = value[role]
        resolved[key] = value
    return resolved


def norm_targets(model, sites: list, variant: str) -> list:
    """``(qualified name, module)`` of every stock RMSNorm at ``sites``; a named site that matches none raises, so a
    variant never silently does nothing."""
    targets = [(name, module) for name, module in model.named_modules()
               if type(module).__name__ == RMSNORM_CLASS and site_of(name) in sites]
    missing = set(sites) - {site_of(name) for name, _ in targets}
    if missing:
        raise ValueError(f"variant {variant!r}: no RMSNorm found at sites {sorted(missing)}")
    return targets


def patch_norms(model, spec: dict, build, scale) -> int:
    """Apply the variant ``spec`` (``name``, ``sites``, ``replacement``, ``options``, ``embedding_scale``) to ``model``
    in place by its carry-over rule: each RMSNorm at the sites becomes ``build(replacement)(rms, **options)``, and
    ``scale(model, embedding_scale)`` scales the embeddings when the spec says so. Returns how many norms were
    replaced."""
    if spec.get("embedding_scale") is not None:
        scale(model, spec["embedding_scale"])
    if not spec.get("sites") or spec.get("replacement", "none") == "none":
        return 0
    targets = norm_targets(model, list(spec["sites"]), spec["name"])
    replace = build(spec["replacement"])
    for name, module in targets:
        model.set_submodule(name, replace(module, **options_for(dict(spec.get("options") or {}), role_of(name), spec["name"])))
    return len(targets)
