"""Insights, a package of its own: `report` (what a report asks for, from the config, and its
schema), `catalog` (what Graph's AdsInsights reads), `calendar` (an account's days and the
jobs they are read in), `jobs` (the report-job scheduler: job states, retry-or-split),
`decoding` (result pages to exact numbers) and `stream` (the stream that reads them)."""
