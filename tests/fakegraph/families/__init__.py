"""The fake Graph API's families of edges, each from the facts: people and access, assets, ads,
insights, leads."""
