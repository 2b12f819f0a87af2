"""The machine's yardstick: the Singer SDK alone, emitting campaign-shaped records from memory.

No HTTP, no threads, no tap-meta-bm code on the record path: a bare SDK stream with our
campaigns schema, yielding `records` copies (as many as the tap's run emitted) of the fake
Graph API's campaigns, written by the SDK's default path, start-up included as in the tap's
runs. How fast this runs says how fast the machine is at the moment, which drifts by a fifth or
more from one hour to the next; the tap's records/s divided by this one's drifts much less.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from tap_meta_bm.streams.ads import CampaignsStream
from tests.fakegraph.data import Dataset


class InMemoryCampaigns(Stream):
    name = "campaigns"
    schema = CampaignsStream.schema

    def get_records(self, context: dict | None) -> Iterator[dict[str, Any]]:
        # One ad account's campaigns, made once and copied: generating every record would be
        # measured too.
        dataset = Dataset("medium")
        campaigns = [dataset.child("campaigns", 0, i) for i in range(dataset.scale.campaigns)]
        for n in range(self.config["records"]):
            yield dict(campaigns[n % len(campaigns)])


class SdkYardstick(Tap):
    name = "sdk-yardstick"
    config_jsonschema = th.PropertiesList(
        th.Property("records", th.IntegerType, default=40_000),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        return [InMemoryCampaigns(self)]


if __name__ == "__main__":
    SdkYardstick.cli()
