"""`drillctl`: the command-line front-end. The only place that handles signals and exits."""
