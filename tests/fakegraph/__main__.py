"""`python -m tests.fakegraph --port 0 --scale small`: serve until interrupted; the URL first."""

from __future__ import annotations

import argparse
import sys
import time

from tests.fakegraph.data import SCALES
from tests.fakegraph.server import DEFAULT_TOKEN, FakeGraph, Faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--app-secret", default=None)
    parser.add_argument("--transient-rate", type=float, default=0.0)
    args = parser.parse_args()
    graph = FakeGraph(args.scale, seed=args.seed, latency_ms=args.latency_ms, token=args.token,
                      app_secret=args.app_secret,
                      faults=Faults(transient_rate=args.transient_rate)).start(args.port)
    print(graph.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        graph.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
