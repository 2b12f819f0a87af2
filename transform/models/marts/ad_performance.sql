-- Spend and delivery per ad account and day (its own calendar day), in the account's currency.
select
    account_id,
    date_start as day,
    currency,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(inline_link_clicks) as link_clicks,
    sum(spend) as spend,
    count(distinct ad_id) as ads_delivering
from {{ ref('stg_ads_insights') }}
group by account_id, date_start, currency
