"""``zone-opt client ...``: call a zone-opt server from the shell, every service.

The token comes from ``--token``, else ``ZONE_OPT_TOKEN``, else the demo token a local
server keeps in ``.zone-opt-data/demo-token``. Output is JSON lines on stdout (one per
dataset, operation, policy or row), stable for scripts; progress goes to stderr.
Actions live by concern in this package's modules; each is a click command registered
here in the order ``zone-opt client --help`` lists them.
"""

from __future__ import annotations

from pathlib import Path

import click

from zone_opt.cli.client import compute, datasets, join, operations
from zone_opt.cli.client.common import DEFAULT_DATA_DIR, Connection, Ordered
from zone_opt.cli.params import INPUT_FILE, POSITIVE, gathered

__all__ = ["ACTIONS", "command"]

#: Every action of ``zone-opt client``, by name.
ACTIONS: dict[str, click.Command] = {
    c.name: c
    for c in (*datasets.COMMANDS, *compute.COMMANDS, *join.COMMANDS, *operations.COMMANDS)
    if c.name is not None
}


@click.group(
    cls=Ordered,
    short_help="Call a zone-opt server (every service).",
    help="Call a zone-opt server: datasets, operations, matching, carbon, facilities, "
    "dispatch and join policies. Results print as JSON lines on stdout.",
)
@click.option("--address", default="127.0.0.1:50051", help="HOST:PORT of the server.")
@click.option(
    "--token",
    default=None,
    show_default="ZONE_OPT_TOKEN, else DATA_DIR/demo-token",
    help="Bearer token.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    help="A local server's state directory, where its demo token is.",
)
@click.option(
    "--tls-ca",
    type=INPUT_FILE,
    default=None,
    show_default="plaintext",
    help="CA certificate to trust (TLS).",
)
@click.option(
    "--tls-cert",
    type=INPUT_FILE,
    default=None,
    show_default="none",
    help="Client certificate (mutual TLS).",
)
@click.option(
    "--tls-key", type=INPUT_FILE, default=None, show_default="none", help="Client key (mutual TLS)."
)
@click.option("--timeout-s", type=POSITIVE, default=60.0, help="Deadline of each call, s.")
@gathered(Connection)
def command(connection: Connection) -> None:
    click.get_current_context().obj = connection


for _action in ACTIONS.values():
    command.add_command(_action)
