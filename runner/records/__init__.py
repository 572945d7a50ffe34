"""Run records in `results/<run-id>/`: run.json, events.jsonl (the audit trail), junit.xml."""
