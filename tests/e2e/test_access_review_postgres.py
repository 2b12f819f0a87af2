"""test_access_review.py's story on PostgreSQL (target-postgres, which soft-deletes on
ACTIVATE_VERSION), in a file of its own so that a pytest-xdist worker runs it beside the
DuckDB one."""

from __future__ import annotations

import pytest

from tests.e2e.test_access_review import (
    test_revocations_task_changes_and_a_removed_person_reach_the_marts,
)
from tests.e2e.warehouse import warehouse_on

pytestmark = pytest.mark.meltano
warehouse = warehouse_on("postgres")

__all__ = ["test_revocations_task_changes_and_a_removed_person_reach_the_marts", "warehouse"]
