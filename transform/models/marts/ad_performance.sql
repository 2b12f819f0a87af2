-- Spend and delivery per ad account and day, in the account's currency (its own days).
select
    account_id,
    day,
    currency,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(inline_link_clicks) as link_clicks,
    sum(spend) as spend,
    count(distinct ad_id) as ads_delivering
from {{ ref('stg_ads_insights') }}
group by account_id, day, currency
