"""The game-day scheduler: a front-end beside `runner.cli` that starts drills on a calendar.

One module per concept: `triggers` (cron, time zone, jitter, blackouts), `catalog` (the
drill files and their reloads), `events` (what happened, as frozen values), `firing` (one
scheduled run of a drill), `executor` and `jobs` (the APScheduler 3 wiring), `tables`,
`history` and `requests` (the persistent store), `leader` and `lease` (one active
scheduler among replicas), `notify`, `metrics` and `endpoints` (what the outside sees),
and `service`, which ties them together for `drillctl schedule serve`.
"""
