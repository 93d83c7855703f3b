"""Load an ablation artifact back: ``ablations.load(path)`` rebuilds the variant and loads it strictly."""

from lab.model import load_artifact as load

__all__ = ["load"]
