"""Shared building blocks of the suite: model building and norm variants, data, Lightning pieces, artifacts."""

import warnings

from lab.config import register_resolvers

register_resolvers()
# torchdata's StatefulDataLoader calls a deprecated torch API on every iter(); the warning says nothing to users.
warnings.filterwarnings("ignore", message="'set_vital' is deprecated", category=UserWarning)
