"""Shared building blocks of the suite: model building and norm variants, data, Lightning pieces, artifacts."""

from lab.config import register_resolvers

register_resolvers()
