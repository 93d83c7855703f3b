"""Normalization-layer ablations of Qwen3 (seed 001): eight variants, trained and compared.

    python -m ablations.train                       # variant=original on the tiny default
    python -m ablations.train -m 'variant=glob(*)'  # the whole grid (make sweep)

``ablations.load(path)`` rebuilds a saved variant from its folder.
"""

from ablations.load import load

__all__ = ["load"]
