-- Who holds which tasks on which asset now: the grants of each assignment stream's latest
-- complete read, on any loader.
select business_id, asset_type, asset_id, user_id, user_name, user_type, user_business_id,
       tasks
from {{ ref('stg_grants') }}
where is_granted
