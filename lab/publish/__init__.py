"""``python -m lab.publish``: a run, sweep, gate run or vindex onto the Hugging Face Hub, in the layout its seed uses
(:mod:`lab.publish.layout`), staged in the weights' dtype with fresh ``SHA256SUMS`` (:mod:`lab.publish.staging`),
a model card at the root, then ``upload_folder`` (``upload_large_folder`` above ``large_folder_gb``); ``dry_run``
prints the files, their sizes, the card and the total and uploads nothing (:mod:`lab.publish.command`)."""
