-- An access review's findings: one row per finding, with its severity, the asset and the
-- principal it concerns, and the fix in Business Settings' words. Times are measured from
-- the latest complete read (`as_of`), by Graph's clock. Rules (README, "Access risks"):
--   full_control_without_2fa  high    an admin ("Full control") of ours or of a partner whose
--                                     two-factor authentication is not on
--   partner_can_manage        high    a partner business whose grant lets it assign MANAGE
--   partner_person_manages    medium  a partner's person holding MANAGE on our asset
--   no_manager                high    an asset of ours no one holds MANAGE (EDIT on a pixel) on
--   single_manager            medium  ... exactly one principal holds it on: a lockout away
--   stale_invitation          medium  an invitation pending for more than 30 days
--   system_user_admin         medium  a system user with the Admin role
--   partner_people_unknown    medium  a partner with access whose people no token reads
--   dormant_access            low     a person holding tasks on an ad account with no entry of
--                                     theirs in its activity log for 90 days. The log records
--                                     ad-account changes only: this is "no recorded change",
--                                     not "no login" (no Meta API has a last-active date).
with as_of as (
    select max(cast(coalesce(graph_read_at, read_at) as timestamp)) as as_of
    from {{ union_of(loaded_relations('complete_reads')) }}
),
access as (
    select * from {{ ref('effective_access') }}
),
assets as (
    select * from {{ ref('stg_assets') }}
),
owned as (
    select s.* from assets s
    where not exists (select 1 from {{ ref('stg_client_assets') }} c
                      where c.business_id = s.business_id and c.asset_id = s.asset_id)
),
managers as (
    select o.business_id, o.asset_type, o.asset_id, o.asset_name,
           count(distinct a.principal_id) as holders,
           max(a.principal_id) as holder_id, max(a.principal_name) as holder_name
    from owned o
    left join access a on a.business_id = o.business_id and a.asset_id = o.asset_id
        and a.access = 'holds'
        and {{ has_task('a.tasks', "' || case o.asset_type when 'PIXEL' then 'EDIT' else 'MANAGE' end || '") }}
    group by o.business_id, o.asset_type, o.asset_id, o.asset_name
),
admins as (
    select business_id, user_id, user_name, user_type, two_fac_status, 'ours' as side
    from {{ ref('stg_people') }} where role = 'ADMIN'
    union all
    select business_id, user_id, user_name, user_type, two_fac_status, 'partner'
    from {{ ref('stg_partner_people') }} where role = 'ADMIN'
),
pending as (
    select * from {{ current_rows('pending_users') }}
),
activity as (
    select 'act_' || account_id as asset_id, actor_id, max(cast(event_time as timestamp)) as last_change
    from {{ union_of(loaded_relations('ad_activities')) }}
    group by 1, 2
),
findings as (
    select 'full_control_without_2fa' as rule, 'high' as severity, business_id,
           cast(null as varchar) as asset_type, cast(null as varchar) as asset_id,
           user_id as principal_id, user_name as principal_name, user_type as principal_type,
           'two-factor authentication: ' || coalesce(two_fac_status, 'unknown') as detail,
           case side when 'ours' then
               'Business Settings > People > ' || user_name || ': ask them to turn on '
               || 'two-factor authentication, or require it for everyone (Business Settings '
               || '> Security Center > Two-factor authentication)'
           else 'Ask the partner to have ' || user_name || ' turn on two-factor '
               || 'authentication, or remove the partner''s access (Business Settings > '
               || 'Partners)' end as fix
    from admins
    where user_type = 'business_user' and coalesce(two_fac_status, '') <> 'enabled'
    union all
    select 'partner_can_manage', 'high', business_id, asset_type, asset_id, principal_id,
           principal_name, principal_type, 'may assign: ' || tasks,
           'Business Settings > Partners > ' || principal_name || ' > Assets: take Manage ('
           || 'Full control) off ' || asset_id || ', keeping the tasks the partner needs'
    from access
    where via = 'partner_grant' and principal_type = 'partner_business'
      and {{ has_task('tasks', 'MANAGE') }}
    union all
    select 'partner_person_manages', 'medium', business_id, asset_type, asset_id,
           principal_id, principal_name, principal_type, 'holds: ' || tasks,
           'Ask ' || via_id || ' (the partner) to take Manage off ' || principal_name
           || ' on ' || asset_id || ', or lower what the partner may assign (Business '
           || 'Settings > Partners)'
    from access
    where via = 'partner_person' and {{ has_task('tasks', 'MANAGE') }}
    union all
    select case holders when 0 then 'no_manager' else 'single_manager' end,
           case holders when 0 then 'high' else 'medium' end, business_id, asset_type,
           asset_id, holder_id, holder_name, cast(null as varchar),
           cast(holders as varchar) || ' principal(s) hold '
           || case asset_type when 'PIXEL' then 'EDIT' else 'MANAGE' end,
           'Business Settings > Accounts > ' || coalesce(asset_name, asset_id)
           || ' > Assign people: give '
           || case holders when 0 then 'two people' else 'a second person' end
           || ' Full control (Manage)'
    from managers
    where holders <= 1
    union all
    select 'stale_invitation', 'medium', p.business_id, cast(null as varchar),
           cast(null as varchar), p.id, p.email, 'invitation',
           'pending since ' || cast(cast(p.created_time as date) as varchar),
           'Business Settings > People > Invitations: cancel the invitation to ' || p.email
           || ', or resend it if it is still wanted'
    from pending p
    cross join as_of
    where cast(p.created_time as timestamp) < as_of.as_of - interval '30 days'
    union all
    select 'system_user_admin', 'medium', business_id, cast(null as varchar),
           cast(null as varchar), id, name, 'system_user', 'role: ADMIN',
           'Business Settings > Users > System users > ' || name || ': make it an Employee '
           || 'and assign it only the assets it needs'
    from {{ current_rows('system_users') }}
    where role = 'ADMIN'
    union all
    select distinct 'partner_people_unknown', 'medium', business_id, cast(null as varchar),
           cast(null as varchar), principal_id, principal_name, principal_type,
           'no partner token: who of its people holds what is unknown',
           'Ask ' || principal_name || ' for a partner token (README, Partners'' people), or '
           || 'review its access in Business Settings > Partners'
    from access
    where access = 'unknown'
    union all
    select 'dormant_access', 'low', a.business_id, a.asset_type, a.asset_id, a.principal_id,
           a.principal_name, a.principal_type,
           'no change of theirs in the activity log since '
           || coalesce(cast(cast(v.last_change as date) as varchar), 'it was read')
           || ' (the log records ad-account changes only, not logins)',
           'Business Settings > Accounts > Ad accounts > ' || a.asset_id || ': remove '
           || coalesce(a.principal_name, a.principal_id) || ', or confirm they still need it'
    from access a
    cross join as_of
    left join activity v on v.asset_id = a.asset_id and v.actor_id = a.principal_id
    where a.access = 'holds' and a.asset_type = 'AD_ACCOUNT'
      and a.principal_type = 'business_user' and a.via = 'direct'
      and coalesce(v.last_change, timestamp '1970-01-01') < as_of.as_of - interval '90 days'
)
select * from findings
