-- Ad insights with their days as dates (the loaders keep Graph's YYYY-MM-DD text), and money
-- as an exact decimal: target-duckdb loads JSON numbers as DOUBLE, whose sums drift
-- (677.0400000000001); Graph's amounts have at most a few decimals, so the cast is exact.
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
    cast(spend as decimal(38, 6)) as spend
from {{ union_of(loaded_relations('ads_insights')) }}
