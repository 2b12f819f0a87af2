-- The assets people can be assigned to, with a name, per business that reads them (owned or
-- shared with it), as the latest complete reads list them.
select business_id, 'AD_ACCOUNT' as asset_type, id as asset_id, name as asset_name
from {{ current_rows('ad_accounts') }}
union all
select business_id, 'PAGE', id, name from {{ current_rows('pages') }}
union all
select business_id, 'PIXEL', id, name from {{ current_rows('pixels') }}
union all
select business_id, 'PRODUCT_CATALOG', id, name from {{ current_rows('product_catalogs') }}
