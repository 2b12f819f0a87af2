-- Every direct grant ever loaded (business, asset, person), one shape for every assignment
-- stream, and what the latest reads say of it: held now (`is_granted`, the rows of its
-- stream's latest complete read and after: macros/loaded.sql) or gone. `observed_at` is when
-- that was seen: by the latest read that listed a held grant, by the first complete read that
-- no longer listed a revoked one. The source of the access snapshot (snapshots/).
{% for stream in var('meta_bm_assignment_streams') %}
select
    business_id,
    asset_type,
    asset_id,
    user_id,
    name as user_name,
    user_type,
    {{ json_text('business', 'id') }} as user_business_id,
    {{ json_list_text('tasks') }} as tasks,
    _is_current as is_granted,
    case when _is_current then {{ read_time(adapter.quote('_read_id')) }} else _gone_at end
        as observed_at
from {{ union_of(loaded_relations(stream), reads='all') }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
