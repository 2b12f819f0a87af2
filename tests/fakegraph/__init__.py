"""The project's own fake Graph API, for end-to-end tests, the demo and benchmarks."""

from tests.fakegraph.server import DEFAULT_TOKEN, FakeGraph, Faults

__all__ = ["DEFAULT_TOKEN", "FakeGraph", "Faults"]
