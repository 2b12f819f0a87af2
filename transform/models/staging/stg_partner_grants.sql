-- Our assets shared with partner businesses (agencies), and what each partner may assign its
-- people there (`permitted_tasks`): read on ad accounts, where Meta's agencies edge has the
-- field; null on pages, pixels and catalogs, whose agencies edges document none (unknown,
-- never guessed).
select business_id, 'AD_ACCOUNT' as asset_type, 'act_' || account_id as asset_id,
       id as partner_id, name as partner_name, access_status,
       {{ json_list_text('permitted_tasks') }} as permitted_tasks
from {{ current_rows('ad_account_agencies') }}
{% for stream in ['page_agencies', 'pixel_agencies', 'catalog_agencies'] if is_loaded(stream) %}
union all
select business_id, asset_type, asset_id, id, name, cast(null as varchar),
       cast(null as varchar)
from {{ current_rows(stream) }}
{% endfor %}
