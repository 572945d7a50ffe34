"""The pytest front-end: scenario files as test items, and a `drill` fixture for Python tests.

Registered through the `pytest11` entry point as `runner.pytest_plugin.plugin`; it does nothing
to a test suite until `--drill`, `--drill-pattern` or `--drill-dry-run` (or the matching ini
settings) turn it on, or a scenario file is named on the command line. Every drill runs
through `runner.engine.launch`, like `drillctl run`.
"""
