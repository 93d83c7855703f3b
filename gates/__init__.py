"""Lambda gates on Qwen3 FFN neurons (seed 000). Not built yet: see the gates issue.

It will reuse the shared package ``lab`` (model building, data, Lightning pieces, artifacts) and train on
the tiny reference model of :mod:`lab.reference` by default.
"""
