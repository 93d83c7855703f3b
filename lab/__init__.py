"""Shared building blocks of the suite: model building and norm variants, data, Lightning pieces, artifacts."""

from lab.config import register_resolvers
from lab.quiet import silence_known_noise

register_resolvers()
silence_known_noise()
