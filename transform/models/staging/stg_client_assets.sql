-- Assets a client shares with one of our businesses, and what the client permits that
-- business to assign on each (the client_* edges' permitted_tasks; null where unread:
-- catalogs give roles, `permitted_roles`, not tasks).
select business_id, 'AD_ACCOUNT' as asset_type, id as asset_id,
       {{ json_list_text('permitted_tasks') }} as permitted_tasks
from {{ current_rows('ad_accounts') }} where relationship = 'CLIENT'
union all
select business_id, 'PAGE', id, {{ json_list_text('permitted_tasks') }}
from {{ current_rows('pages') }} where relationship = 'CLIENT'
union all
select business_id, 'PIXEL', id, {{ json_list_text('permitted_tasks') }}
from {{ current_rows('pixels') }} where relationship = 'CLIENT'
union all
select business_id, 'PRODUCT_CATALOG', id, cast(null as varchar)
from {{ current_rows('product_catalogs') }} where relationship = 'CLIENT'
