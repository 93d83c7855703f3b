"""``make bench``: measured comparisons against what researchers would use instead (never part of the tests)."""
