-- Grants that appeared or disappeared, and when, from the loader's soft deletes: 'granted' at
-- the time the loader first wrote the row, 'revoked' at the time a complete run no longer saw
-- it. (A loader that keeps no such columns, like target-duckdb, leaves the times null and
-- reports no revocation.)
select business_id, asset_type, asset_id, user_id, user_name, tasks,
       'granted' as change, loaded_at as changed_at
from {{ ref('stg_assignments') }}
union all
select business_id, asset_type, asset_id, user_id, user_name, tasks,
       'revoked' as change, deleted_at as changed_at
from {{ ref('stg_assignments') }}
where deleted_at is not null
