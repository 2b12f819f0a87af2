"""test_effective_access.py's stories on PostgreSQL, in a file of their own so that a
pytest-xdist worker runs them beside the DuckDB ones."""

from __future__ import annotations

import pytest

from tests.e2e.test_effective_access import (
    test_an_account_refused_on_every_run_keeps_its_rows_while_the_others_revocations_leave,
    test_effective_access_never_claims_more_than_meta_grants,
)
from tests.e2e.warehouse import warehouse_on

pytestmark = pytest.mark.meltano
warehouse = warehouse_on("postgres")

__all__ = ["test_an_account_refused_on_every_run_keeps_its_rows_while_the_others_revocations_leave",
           "test_effective_access_never_claims_more_than_meta_grants", "warehouse"]
