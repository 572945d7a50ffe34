"""Evidence an auditor accepts: signed, reproducible evidence packs of a run, the exercise's
sign-off, approvals and deficiencies as entries of the run's hash-chained journal."""
