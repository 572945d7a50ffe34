"""Measurement: RTO, RPO, steady state and guardrails, computed from Prometheus series.

Everything here except `collect` is a pure function over series already fetched, so a
stored run can be measured again without Prometheus. `collect` is the only I/O, and it
goes through `runner.prom.PrometheusClient`. A measurement outcome (met, missed,
inconclusive) is data, never an exception.
"""
