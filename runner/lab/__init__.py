"""The local lab: a real two-site disaster-recovery setup on one machine.

Two PostgreSQL 15 servers (`east` primary, `west` streaming standby through lab
proxies), an order service per site, a router, a prober, database exporters and
a real Prometheus, all owned by one supervisor process. The engine drives the
lab through `runner.lab.backend`, the same seam Chaos Mesh plugs into.
"""
