"""The run journal: one typed model of a run (`Run` and its frozen entries), its one JSON
form (run.json, versioned) and its append-only log (events.jsonl); read in one place
(`runner.journal.files`) by the reports, the pytest plugin, the scheduler and the CLI."""
