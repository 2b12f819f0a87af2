-- Everyone who can reach each asset now, and how: one row per (business, asset, principal,
-- path). `via`:
--   direct        a task assigned on the asset itself (access_matrix);
--   business_role the principal's role in the business that owns or was shared the asset,
--                 with the tasks that role implies (seed role_access; README, "Effective
--                 access");
--   asset_group   an assignment to a business asset group that contains the asset, with
--                 the tasks it gives on that asset type (via_id: the group);
--   partner       a partner business granted access to the asset (ad_account_agencies):
--                 the business itself (principal_type partner_business: whoever it assigns),
--                 and each of its people seen in this business's assignments (via_id: the
--                 partner business).
with people as (
    select * from {{ ref('stg_people') }}
),
direct as (
    select business_id, asset_type, asset_id, user_id as principal_id,
           user_name as principal_name, user_type as principal_type,
           user_business_id as principal_business_id, 'direct' as via,
           cast(null as varchar) as via_id, tasks
    from {{ ref('stg_assignments') }}
),
roles as (
    select s.business_id, s.asset_type, s.asset_id, p.user_id, p.user_name, p.user_type,
           p.business_id, 'business_role', p.role, r.tasks
    from {{ ref('stg_assets') }} s
    join people p on p.business_id = s.business_id
    join {{ ref('role_access') }} r on r.role = p.role and r.asset_type = s.asset_type
),
asset_groups as (
    select g.business_id, g.asset_type, g.asset_id, g.user_id, p.user_name,
           coalesce(p.user_type, 'business_user'), g.business_id, 'asset_group', g.group_id,
           g.tasks
    from {{ ref('stg_asset_group_access') }} g
    left join people p on p.business_id = g.business_id and p.user_id = g.user_id
),
partner_grants as (
    select * from {{ ref('stg_partner_grants') }}
    where coalesce(access_status, 'CONFIRMED') = 'CONFIRMED'
),
partner_businesses as (
    select business_id, asset_type, asset_id, partner_id, partner_name, 'partner_business',
           partner_id, 'partner', partner_id, tasks
    from partner_grants
),
partner_people as (
    select g.business_id, g.asset_type, g.asset_id, a.user_id, a.user_name, a.user_type,
           g.partner_id, 'partner', g.partner_id, g.tasks
    from partner_grants g
    join (select distinct user_id, user_name, user_type, user_business_id
          from {{ ref('stg_assignments') }}) a on a.user_business_id = g.partner_id
)
select * from direct
union all select * from roles
union all select * from asset_groups
union all select * from partner_businesses
union all select * from partner_people
