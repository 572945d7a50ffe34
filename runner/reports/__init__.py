"""Reports people read, built from run records (`results/<run-id>/`).

`record` loads a run folder, `timeline` turns it into series, phases and markers, `svg` and
the chart modules draw them, `html` and `markdown` render one run, `history` and
`history_html` show every run of a scenario over time with regressions flagged. Nothing here
talks to Prometheus or a cluster: everything comes from what the run wrote.
"""
