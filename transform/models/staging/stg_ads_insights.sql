-- Ad insights with their days as dates (the loaders keep Graph's YYYY-MM-DD text).
select
    account_id,
    campaign_id,
    adset_id,
    ad_id,
    cast(date_start as date) as date_start,
    cast(date_stop as date) as date_stop,
    account_currency as currency,
    impressions,
    clicks,
    inline_link_clicks,
    spend
from {{ union_of(loaded_relations('ads_insights')) }}
