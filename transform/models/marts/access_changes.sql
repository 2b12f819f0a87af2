-- Every change of direct access, from the access snapshot: 'granted' (first seen), 'revoked'
-- (no longer listed by a complete read), 'tasks_changed' (old and new tasks), each at the time
-- of the first read that saw it.
with versions as (
    select
        business_id, asset_type, asset_id, user_id, user_name, tasks, is_granted,
        dbt_valid_from, dbt_valid_to,
        lag(is_granted) over grant_history as was_granted,
        lag(tasks) over grant_history as held_tasks,
        lead(dbt_valid_from) over grant_history as next_from
    from {{ ref('access_snapshot') }}
    window grant_history as (partition by business_id, asset_type, asset_id, user_id
                             order by dbt_valid_from)
)
select business_id, asset_type, asset_id, user_id, user_name, 'granted' as change,
       cast(null as varchar) as old_tasks, tasks as new_tasks, dbt_valid_from as changed_at
from versions
where is_granted and not coalesce(was_granted, false)
union all
-- A grant first seen already revoked was loaded while held: its revocation counts.
select business_id, asset_type, asset_id, user_id, user_name, 'revoked',
       coalesce(held_tasks, tasks), cast(null as varchar), dbt_valid_from
from versions
where not is_granted and coalesce(was_granted, true)
union all
select business_id, asset_type, asset_id, user_id, user_name, 'tasks_changed',
       held_tasks, tasks, dbt_valid_from
from versions
where is_granted and was_granted and tasks <> held_tasks
union all
-- Gone from the warehouse altogether (a loader that deletes rows): revoked when dbt saw it.
select business_id, asset_type, asset_id, user_id, user_name, 'revoked',
       tasks, cast(null as varchar), dbt_valid_to
from versions
where is_granted and dbt_valid_to is not null and next_from is null
