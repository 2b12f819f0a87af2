-- Every assignment stream in one shape: who (user, their business) holds which tasks on which
-- asset, as seen from which business; deleted_at when the loader marked it revoked.
{% set streams = ['ad_account_assignments', 'page_assignments', 'pixel_assignments',
                  'catalog_assignments'] %}
{% for stream in streams %}
{% set relations = loaded_relations(stream) %}
select
    business_id,
    asset_type,
    asset_id,
    user_id,
    name as user_name,
    user_type,
    {{ json_text('business', 'id') }} as user_business_id,
    {{ json_list_text('tasks') }} as tasks,
    {{ loaded_at(relations[0]) }} as loaded_at,
    {{ deleted_at(relations[0]) }} as deleted_at
from {{ union_of(relations) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
