"""Failover and failback steps that need no cluster: http, command, manual, sleep, wait-for-query.

Kubernetes steps live with the Kubernetes backend, lab steps with the lab; the engine
picks the executor that supports a step's action and applies timeouts and retries.
"""
