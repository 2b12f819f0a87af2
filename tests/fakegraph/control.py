"""Change who has access in a running fake Graph API, as an admin would in Business Settings.

    python -m tests.fakegraph.control URL revoke ASSET USER
    python -m tests.fakegraph.control URL set-tasks ASSET USER TASK[,TASK...]
    python -m tests.fakegraph.control URL remove-user USER
    python -m tests.fakegraph.control URL unshare ASSET PARTNER

ASSET is an ad account (`act_<id>` or the bare id), a page, pixel or catalog id, or a business
asset group id; USER a business user's or system user's id; PARTNER a partner business the
asset is shared with (`unshare` takes an ad account as `act_<id>`). Each command is one call
to the fake's HTTP control endpoint (`/__fake/revoke`, `/__fake/set_tasks`,
`/__fake/remove_user`, `/__fake/unshare`), so the next sync sees the change.
"""

from __future__ import annotations

import argparse
import json
import sys
from urllib.parse import urlencode
from urllib.request import urlopen

COMMANDS = {"revoke": ("asset", "user"), "set-tasks": ("asset", "user", "tasks"),
            "remove-user": ("user",), "unshare": ("asset", "partner")}


class Refused(Exception):
    """The fake could not make the change: the grant or the person is not there."""


def change_access(url: str, command: str, **params: str) -> None:
    """One change of access, over HTTP (`command` as on the command line)."""
    endpoint = command.replace("-", "_")
    with urlopen(f"{url.rstrip('/')}/__fake/{endpoint}?{urlencode(params)}",
                 timeout=30) as answer:
        said = json.load(answer)
    if said != {"ok": True}:
        raise Refused(f"{command}: {said.get('error', said)}; nothing changed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the fake's URL, as it printed it")
    commands = parser.add_subparsers(dest="command", required=True)
    for command, names in COMMANDS.items():
        sub = commands.add_parser(command)
        for name in names:
            sub.add_argument(name)
    args = parser.parse_args()
    try:
        change_access(args.url, args.command,
                      **{name: getattr(args, name) for name in COMMANDS[args.command]})
    except Refused as refused:
        sys.exit(str(refused))
    print(f"{args.command}: done")


if __name__ == "__main__":
    main()
