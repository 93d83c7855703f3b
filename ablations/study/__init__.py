"""The norm study: its analysis of a study folder (:mod:`.analysis`, ``python -m ablations.study``), the per-run
metrics (:mod:`.metrics`), the contrast families (:mod:`.families`), tables, trends, departures, the replication
check, plots, and publishing into docs/ (:mod:`.publish`)."""
