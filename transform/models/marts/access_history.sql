-- Who held which tasks on which asset, and when: one row per (business, asset, person) and
-- period with the same tasks. valid_to is null while the grant holds.
select
    business_id,
    asset_type,
    asset_id,
    user_id,
    user_name,
    tasks,
    dbt_valid_from as valid_from,
    dbt_valid_to as valid_to
from {{ ref('access_snapshot') }}
where is_granted
