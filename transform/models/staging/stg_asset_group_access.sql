-- What a person reaches through a business asset group: each asset the group contains now,
-- with the tasks the person's assignment to the group gives on that asset type (Meta's
-- assigned_business_asset_groups: adaccount_tasks, page_tasks, pixel_tasks).
with assignments as (
    select business_id, user_id, group_id, name as group_name,
           {{ json_list_text('adaccount_tasks') }} as adaccount_tasks,
           {{ json_list_text('page_tasks') }} as page_tasks,
           {{ json_list_text('pixel_tasks') }} as pixel_tasks
    from {{ current_rows('asset_group_assignments') }}
),
contents as (
    select business_id, group_id, asset_type, asset_id
    from {{ current_rows('business_asset_group_assets') }}
)
select * from (
    select a.business_id, c.asset_type, c.asset_id, a.user_id, a.group_id, a.group_name,
           case c.asset_type when 'AD_ACCOUNT' then a.adaccount_tasks
                             when 'PAGE' then a.page_tasks
                             when 'PIXEL' then a.pixel_tasks end as tasks
    from assignments a
    join contents c on c.business_id = a.business_id and c.group_id = a.group_id
) reached
where coalesce(tasks, '') <> ''
