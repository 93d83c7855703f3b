"""What a mistyped override gets besides Hydra's own message: a typed node's valid keys (the closest named), or the
type a value should have."""

import difflib
from dataclasses import fields

from omegaconf import OmegaConf

from lab.config.checks import TYPE_NAMES
from lab.config.registry import typed_nodes


def _wrong_type(schema: type, name: str, item: str) -> str | None:
    """``node.key=value is invalid; expected ...`` when ``value`` does not convert to the field's type, else None."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf.errors import ValidationError

    try:
        value = OverridesParser.create().parse_override(item).value()
        OmegaConf.structured(schema)[name] = value
    except ValidationError:
        kind = next(f.type for f in fields(schema) if f.name == name)
        return f"{item.partition('=')[0]}={value!r} is invalid; expected {TYPE_NAMES.get(kind, kind)}"
    except Exception:  # noqa: BLE001 - a value Hydra's parser or the schema's checks refuse is reported by Hydra
        return None
    return None


def unknown_key_hint(overrides: list[str]) -> str | None:
    """For a command-line override of a typed node's key that is not one of its fields (``optimizer.lrr=1``): the
    node's valid keys, the closest first named (what Hydra's "Key 'lrr' not in 'OptimizerConfig'" leaves out); for
    a value of the wrong type (``data.batch_size=abc``): the key, the value and the type expected."""
    nodes = typed_nodes()
    for item in overrides:
        node, _, name = item.lstrip("+~").partition("=")[0].partition(".")
        if node not in nodes or not name or "." in name:
            continue
        valid = [f.name for f in fields(nodes[node])]
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f"valid {node} keys: {', '.join(valid)}" + (f"; did you mean {node}.{close[0]}?" if close else "")
            return hint + (f"; {nodes[node].OPEN_HINT}" if hasattr(nodes[node], "OPEN_HINT") else "")
        wrong = _wrong_type(nodes[node], name, item.lstrip("+~"))
        if wrong:
            return wrong
    return None
