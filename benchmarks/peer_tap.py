"""Runs the MeltanoLabs tap (`meltano-tap-facebook`) against the fake Graph API.

Its streams build URLs on a hard-coded https://graph.facebook.com; this wrapper only swaps that
base for the fake server's (PEER_GRAPH_URL) and then hands over to the tap's own CLI.
It runs inside the tap's own virtualenv (benchmarks/run.py creates it).
"""

from __future__ import annotations

import os

from tap_facebook import client
from tap_facebook.tap import TapFacebook

BASE = os.environ["PEER_GRAPH_URL"].rstrip("/")


def _url_base(self: client.FacebookStream) -> str:
    return f"{BASE}/{self.config['api_version']}/act_{self.config['account_id']}"


client.FacebookStream.url_base = property(_url_base)  # type: ignore[assignment]

if __name__ == "__main__":
    TapFacebook.cli()
