"""Data: the bundled tiny corpus, text formats of the two schemas, packing, the Lightning DataModule."""
