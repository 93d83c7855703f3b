"""Training: the run lifecycle every training tool shares (``run``), the Lightning module and trainer, the
callbacks (diagnostics, health, measurements, progress, initial evaluation), loggers, DDP under Hydra and
``torch.compile`` policy."""
