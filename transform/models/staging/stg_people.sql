-- The people of each business now, and their role in it: business users and system users.
select business_id, id as user_id, name as user_name, 'business_user' as user_type, role,
       two_fac_status
from {{ current_rows('business_users') }}
union all
select business_id, id, name, 'system_user', role, cast(null as varchar)
from {{ current_rows('system_users') }}
