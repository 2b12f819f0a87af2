"""`account_shard: "K/N"`: job K of N takes the ad accounts whose id hashes to K.

A shard is chosen by hashing, not by a list, so it stays right as client ad accounts come and
go: an account's shard depends on its id and N alone. The streams whose records belong to one
ad account (campaigns, insights, its assignments ...) are split that way; everything else about
the business (businesses, pages, people, partners, assets the business owns) is read by shard 0
only, so the fleet reads each edge once and its union is one unsharded run. Every shard still
lists the business's ad accounts: that listing is how it finds its own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from typing_extensions import override

from tap_meta_bm.errors import ConfigError
from tap_meta_bm.ids import bare_account_id

MAX_SHARDS = 1000
#: `K/N`, spaces allowed (the settings schema carries it, so `--about` and Meltano show it).
SHARD_PATTERN = r"^\s*(\d+)\s*/\s*(\d+)\s*$"


@dataclass(frozen=True)
class AccountShard:
    index: int
    count: int

    @override
    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, account_id: str) -> bool:
        """Whether the ad account (`act_123` or `123`) is this shard's."""
        return shard_of(account_id, self.count) == self.index

    @property
    def reads_business_streams(self) -> bool:
        """Whether this shard syncs the streams not split by ad account (`per_ad_account`)."""
        return self.index == 0


def shard_of(account_id: str, count: int) -> int:
    """The shard of an ad account among `count`: the same on every machine and every run
    (Python's own `hash` of a string changes with each process)."""
    digest = hashlib.blake2b(bare_account_id(account_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def parse_shard(value: object) -> AccountShard | None:
    """The `account_shard` setting: None when unset, else K/N with 0 <= K < N."""
    if value is None or value == "":
        return None
    match = re.match(SHARD_PATTERN, str(value))
    if not match or isinstance(value, bool):
        raise ConfigError(f"account_shard: {value!r} is not K/N (job K of N, counted from 0, "
                          "e.g. \"0/4\" to \"3/4\").")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS or index >= count:
        raise ConfigError(f"account_shard: {value!r} needs 0 <= K < N <= {MAX_SHARDS} (job K "
                          f"of N, counted from 0: \"0/{max(count, 1)}\" to "
                          f"\"{max(count, 1) - 1}/{max(count, 1)}\").")
    return AccountShard(index, count)
