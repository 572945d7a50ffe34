"""`drillctl lab`: start, stop, reset and inspect the local lab."""

from __future__ import annotations

from typing import Any

import click

from runner.cli.output import emit, output_option

state_dir_option = click.option(
    "--state-dir",
    default=".drill-lab",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The lab's state folder.",
)


def render(status: dict[str, Any]) -> str:
    """The human form of a lab status."""
    lines = [
        f"topology    {status.get('topology', 'two-site')}",
        f"supervisor  pid {status['supervisor']['pid']}  control {status['supervisor']['control']}",
        f"router      {status['routerUrl']}  (traffic -> {status['activeSite']})",
        f"prometheus  {status['prometheus']['url']}  pid {status['prometheus']['pid']}",
        f"metrics     {status['metricsUrl']}",
    ]
    for name, site in status["sites"].items():
        db, orders, lag = site["db"], site["orders"], site["lag"]
        stream = "streaming" if site["streaming"] else "-"
        lag_text = "-" if lag["seconds"] is None else f"{lag['seconds']:.2f}s/{lag['bytes']:.0f}B"
        address = site.get("address", "127.0.0.1")
        lines.append(
            f"site {name:<5} db {address}:{db['port']} pid {db['pid']}  {site['role']:<8} "
            f"{stream:<9} lag {lag_text}  orders {address}:{orders['port']} pid {orders['pid']}"
        )
    for name, proxy in status["proxies"].items():
        shape = "severed" if proxy["severed"] else "ok"
        if proxy["latency"] > proxy.get("baseLatency", 0.0) or proxy["rate"]:
            shape = f"latency {proxy['latency']}s rate {proxy['rate']}B/s"
        lines.append(
            f"proxy {name:<12} {proxy.get('host', '127.0.0.1')}:{proxy['port']} -> "
            f"{proxy['target']}  {shape}"
        )
    faults = status["faults"]
    lines.append(f"faults      {len(faults)} active")
    lines.extend(
        f"  {f['id']}  {f['type']} site {f['site']}  expires {f['expires_at']:.0f}" for f in faults
    )
    return "\n".join(lines)


def _progress(message: str) -> None:
    """What `lab up` waits for, on stderr (stdout stays the status, as data with --output)."""
    click.echo(f"lab: {message}", err=True)


@click.group(name="lab")
def group() -> None:
    """Start, stop and inspect the local lab (two PostgreSQL sites, Prometheus)."""


topology_option = click.option(
    "--topology",
    metavar="NAME|FILE",
    help="A shipped topology (two-site, sync, dns-failover, dns-active-active) or a "
    "LabTopology file. Default: the one the state folder was built with, else two-site.",
)


@group.command()
@state_dir_option
@topology_option
@output_option
def up(state_dir: str, topology: str | None, output: str) -> None:
    """Start the lab in the background; return once a drill can start, and print what runs
    where (metric history for the lab scenarios' steady-state windows, replication streaming)."""
    from runner.lab import launcher
    from runner.lab.client import LabClient

    state = launcher.start(state_dir, topology=topology, progress=_progress)
    emit(LabClient(state).status(), output, render)


@group.command()
@state_dir_option
def down(state_dir: str) -> None:
    """Stop everything the lab started (its state folder is kept)."""
    from runner.lab import launcher

    killed = launcher.stop(state_dir)
    click.echo("lab stopped" + (f" (killed leftovers: {killed})" if killed else ""))


@group.command()
@state_dir_option
@output_option
def status(state_dir: str, output: str) -> None:
    """Show processes, roles, the active site, lag and active faults."""
    from runner.lab.client import LabClient

    emit(LabClient.connect(state_dir).status(), output, render)


@group.command()
@state_dir_option
@topology_option
@output_option
def reset(state_dir: str, topology: str | None, output: str) -> None:
    """Stop the lab, wipe its state folder and start it fresh (in the same topology, or the
    one given)."""
    from runner.lab import launcher
    from runner.lab import topology as topologies
    from runner.lab.client import LabClient
    from runner.lab.state import Layout

    # a bad file stops here, before anything is stopped or wiped
    layout = Layout.of(state_dir)
    chosen = topologies.load(topology) if topology else topologies.recorded_topology(layout)
    launcher.stop(state_dir)
    launcher.wipe(state_dir)
    state = launcher.start(state_dir, topology=chosen, progress=_progress)
    emit(LabClient(state).status(), output, render)
