"""A run's folder and what makes it safe to rerun: its path, lock and identity, resume from checkpoints (with the
RNG state), the final checkpoint, artifacts with their ``SHA256SUMS``, the summary entry, the folder kinds the
generic commands dispatch on, and the tiny reference model other tools train on."""
