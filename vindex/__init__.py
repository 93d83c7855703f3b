"""LarQL-compatible vindex of a Qwen3 checkpoint (seed 002). Not built yet: see the vindex issue.

It will reuse the shared package ``lab`` and index the tiny reference model of :mod:`lab.reference` by default.
"""
