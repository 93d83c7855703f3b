"""The ground floor every tool stands on (docs/architecture.md): ``config``, ``model`` (building, norms, variants),
``data``, ``train`` (the run lifecycle, Lightning pieces), ``runs`` (folders, identity, resume, artifacts),
``plan``, ``evaluate``, ``report``; ``dev`` holds development tooling. It imports none of the tools."""

from lab.config import register_resolvers
from lab.train.quiet import silence_known_noise

register_resolvers()
silence_known_noise()
