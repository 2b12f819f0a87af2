-- The people of each partner business that shared a token with us (partner_tokens): read
-- with that token, with their role and 2FA status. A partner with no token has no rows here:
-- its people are unknown.
{% if is_loaded('partner_system_users') %}
select business_id, id as user_id, name as user_name, 'system_user' as user_type, role,
       cast(null as varchar) as two_fac_status
from {{ current_rows('partner_system_users') }}
{% if is_loaded('partner_business_users') %}
union all
select business_id, id, name, 'business_user', role, two_fac_status
from {{ current_rows('partner_business_users') }}
{% endif %}
{% else %}
select cast(null as varchar) as business_id, cast(null as varchar) as user_id,
       cast(null as varchar) as user_name, cast(null as varchar) as user_type,
       cast(null as varchar) as role, cast(null as varchar) as two_fac_status
where 1 = 0
{% endif %}
