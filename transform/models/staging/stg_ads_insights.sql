select
    account_id,
    campaign_id,
    adset_id,
    ad_id,
    cast(date_start as date) as day,
    account_currency as currency,
    impressions,
    clicks,
    inline_link_clicks,
    spend
from {{ union_of(loaded_relations('ads_insights')) }}
