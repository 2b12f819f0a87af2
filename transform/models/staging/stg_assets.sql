-- The assets people can be assigned to, with a name, per business that reads them.
select business_id, 'AD_ACCOUNT' as asset_type, id as asset_id, name as asset_name
from {{ union_of(loaded_relations('ad_accounts')) }}
union all
select business_id, 'PAGE', id, name from {{ union_of(loaded_relations('pages')) }}
union all
select business_id, 'PIXEL', id, name from {{ union_of(loaded_relations('pixels')) }}
union all
select business_id, 'PRODUCT_CATALOG', id, name from {{ union_of(loaded_relations('product_catalogs')) }}
