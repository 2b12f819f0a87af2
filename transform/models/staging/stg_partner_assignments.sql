-- What each partner's people hold on our assets shared with it, as read with the partner's
-- own token (`/{asset}/assigned_users?business={partner}`).
{% if is_loaded('partner_assignments') %}
select business_id as partner_id, asset_type, asset_id, user_id, name as user_name,
       user_type, {{ json_list_text('tasks') }} as tasks
from {{ current_rows('partner_assignments') }}
{% else %}
select cast(null as varchar) as partner_id, cast(null as varchar) as asset_type,
       cast(null as varchar) as asset_id, cast(null as varchar) as user_id,
       cast(null as varchar) as user_name, cast(null as varchar) as user_type,
       cast(null as varchar) as tasks
where 1 = 0
{% endif %}
