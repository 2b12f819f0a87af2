-- Everyone who can reach each asset now, and how, never claiming more than Meta grants:
-- one row per (business, asset, principal, path). README, "Effective access", gives each
-- rule with the Meta page it rests on.
--
-- `access`:
--   holds      tasks assigned to the principal on the asset: `via` direct (the asset's
--              assigned_users), asset_group (a business asset group that contains it, via_id
--              the group) or partner_person (a partner's person, as read with the partner's
--              own token, via_id the partner);
--   can_grant  tasks the principal may assign, to itself or its people, and holds nowhere
--              until it does: `via` full_control (an admin, "Full control", of the business
--              the asset belongs to: any task of the asset type on its own assets, what the
--              client permits on a client's) or partner_grant (a partner business, up to what
--              its grant permits; via_id the partner);
--   unknown    a partner business that shared no token: its people may hold tasks here, which
--              no token of ours can read (`via` partner_people, tasks null).
-- On an asset a client shares with the business, every list is within what the client
-- permits (client_* edges' permitted_tasks). `tasks` null: not known (never guessed).
with client_caps as (
    select * from {{ ref('stg_client_assets') }}
),
people as (
    select * from {{ ref('stg_people') }}
),
grants as (
    select * from {{ ref('stg_partner_grants') }}
    where coalesce(access_status, 'CONFIRMED') = 'CONFIRMED'
),
known_partners as (
    select distinct business_id as partner_id from {{ ref('stg_partner_people') }}
),
held as (
    select business_id, asset_type, asset_id, user_id as principal_id,
           user_name as principal_name, user_type as principal_type,
           user_business_id as principal_business_id, 'direct' as via,
           cast(null as varchar) as via_id, tasks
    from {{ ref('stg_assignments') }}
    union all
    select g.business_id, g.asset_type, g.asset_id, g.user_id, p.user_name,
           coalesce(p.user_type, 'business_user'), g.business_id, 'asset_group', g.group_id,
           g.tasks
    from {{ ref('stg_asset_group_access') }} g
    left join people p on p.business_id = g.business_id and p.user_id = g.user_id
    union all
    select g.business_id, a.asset_type, a.asset_id, a.user_id, a.user_name, a.user_type,
           a.partner_id, 'partner_person', a.partner_id,
           case when g.permitted_tasks is null then a.tasks
                else {{ tasks_within('a.tasks', 'g.permitted_tasks') }} end
    from {{ ref('stg_partner_assignments') }} a
    join grants g on g.partner_id = a.partner_id and g.asset_type = a.asset_type
                 and g.asset_id = a.asset_id
),
holds as (
    select h.business_id, h.asset_type, h.asset_id, h.principal_id, h.principal_name,
           h.principal_type, h.principal_business_id, 'holds' as access, h.via, h.via_id,
           case when c.asset_id is null or c.permitted_tasks is null then h.tasks
                else {{ tasks_within('h.tasks', 'c.permitted_tasks') }} end as tasks
    from held h
    left join client_caps c on c.business_id = h.business_id
                           and c.asset_type = h.asset_type and c.asset_id = h.asset_id
),
full_control as (
    select s.business_id, s.asset_type, s.asset_id, p.user_id, p.user_name, p.user_type,
           p.business_id, 'can_grant', 'full_control', cast(null as varchar),
           case when c.asset_id is null then r.tasks else c.permitted_tasks end
    from {{ ref('stg_assets') }} s
    join people p on p.business_id = s.business_id and p.role = 'ADMIN'
    join {{ ref('role_access') }} r on r.role = 'ADMIN' and r.asset_type = s.asset_type
    left join client_caps c on c.business_id = s.business_id
                           and c.asset_type = s.asset_type and c.asset_id = s.asset_id
),
partner_grant as (
    select business_id, asset_type, asset_id, partner_id, partner_name,
           'partner_business', partner_id, 'can_grant', 'partner_grant', partner_id,
           permitted_tasks
    from grants
    union all
    -- A partner's admins (with its token) may assign themselves up to the grant.
    select g.business_id, g.asset_type, g.asset_id, p.user_id, p.user_name, p.user_type,
           g.partner_id, 'can_grant', 'partner_grant', g.partner_id, g.permitted_tasks
    from grants g
    join {{ ref('stg_partner_people') }} p on p.business_id = g.partner_id and p.role = 'ADMIN'
),
unknown as (
    select business_id, asset_type, asset_id, partner_id, partner_name, 'partner_business',
           partner_id, 'unknown', 'partner_people', partner_id, cast(null as varchar)
    from grants
    where partner_id not in (select partner_id from known_partners)
)
select * from holds where tasks <> ''
union all select * from full_control
union all select * from partner_grant
union all select * from unknown
