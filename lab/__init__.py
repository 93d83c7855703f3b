"""The ground floor every tool stands on (docs/architecture.md): ``config``, ``model`` (building, norms, variants),
``data``, ``train`` (the run lifecycle, Lightning pieces), ``runs`` (folders, identity, resume, artifacts),
``plan``, ``evaluate``, ``report``; ``dev`` holds development tooling. It imports none of the tools."""

from lab.config import register_resolvers
from lab.runs.job_name import register_job_name_resolver
from lab.train.quiet import silence_known_noise

register_resolvers()
register_job_name_resolver()
silence_known_noise()
