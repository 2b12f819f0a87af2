-- Partner businesses (agencies) granted access to an ad account, and the tasks granted.
select business_id, 'AD_ACCOUNT' as asset_type, 'act_' || account_id as asset_id,
       id as partner_id, name as partner_name, access_status,
       {{ json_list_text('permitted_tasks') }} as tasks
from {{ current_rows('ad_account_agencies') }}
