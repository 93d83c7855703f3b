"""lm-evaluation-harness (``lm-eval``) on anything this suite writes: ``python -m lab.evaluate.lm_eval <folder> tasks=[...]``.

- :mod:`lab.evaluate.lm_eval.harness`: our loaded model object and tokenizer as one ``HFLM``, task names checked,
  datasets that need the hub named in one line;
- :mod:`lab.evaluate.lm_eval.targets`: what a folder holds to evaluate (an ablation stage, a gate run masked on the
  fly, a sweep's runs, a Hugging Face folder or hub id);
- :mod:`lab.evaluate.lm_eval.results`: ``lm_eval/results.json``, the model card's ``model-index``, the W&B summary;
- ``tasks/``: our tasks (``tiny``: ``tiny_facts``, ``tiny_arith``; ``popqa``) and the real-scale groups
  (``knowledge``, ``reasoning``, ``general``).
"""
