-- Who holds which tasks on which asset now, by direct assignment: one row per (business,
-- asset, person), for every asset type the tap reads. A partner's person belongs to another
-- business than the one whose asset it is; a system user is a robot, not a person.
select
    a.business_id,
    a.asset_type,
    a.asset_id,
    s.asset_name,
    a.user_id,
    a.user_name,
    a.user_type = 'system_user' as is_system_user,
    coalesce(a.user_business_id <> a.business_id, false) as is_partner,
    a.user_business_id,
    a.tasks
from {{ ref('stg_assignments') }} a
left join {{ ref('stg_assets') }} s
    on s.business_id = a.business_id and s.asset_type = a.asset_type and s.asset_id = a.asset_id
