"""Development and test tooling, apart from the product: a one-node SLURM cluster on this machine
(``python -m lab.dev.local_slurm``), random checkpoints of real shapes (``python -m lab.dev.synthetic``), and a
reader of offline W&B run files (``wandb_offline``). ablations, gates and vindex never import it; the tests and
benchmarks do."""
