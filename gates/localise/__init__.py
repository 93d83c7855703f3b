"""The knowledge-localisation benchmark (``python -m gates.localise``, ``make localise``): every neuron-selection
method (:mod:`.benchmark`: gates, trained random gates, attribution, Gate 3, vindex features, random; the attributions
in :mod:`.attribution` and :mod:`.logit_attribution`, the rank-1 DELETE in :mod:`.delete`), graded on held-out facts,
the probe (:mod:`.probe`) and the relearning attacks (:mod:`.relearn`); its cost (:mod:`.plan`), its tables and
figures (:mod:`.report`) and the confirmatory run of its registered claims (:mod:`.confirm`)."""
