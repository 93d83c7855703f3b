"""Evaluation: our graded generation (``graded``: knowledge recall, reasoning accuracy) and lm-evaluation-harness
(``lm_eval``: standard tasks and ours on every artifact, ``python -m lab.evaluate.lm_eval``)."""
