"""Every stream of the tap, in sync order: directory-like streams come before their children."""

from __future__ import annotations

from tap_meta_bm.streams.access import (
    AdAccountAgenciesStream,
    AdAccountAssignmentsStream,
    AssetGroupAssignmentsStream,
    BusinessAssetGroupAssetsStream,
    BusinessAssetGroupsStream,
    CatalogAssignmentsStream,
    PageAssignmentsStream,
    PartnersStream,
    PixelAssignmentsStream,
)
from tap_meta_bm.streams.activity import AdActivitiesStream
from tap_meta_bm.streams.ad_accounts import AdAccountsStream
from tap_meta_bm.streams.ads import AdSetsStream, AdsStream, CampaignsStream
from tap_meta_bm.streams.assets import (
    AdAccountPixelsStream,
    AppsStream,
    CustomConversionsStream,
    InstagramAccountsStream,
    PixelsStream,
    ProductCatalogsStream,
)
from tap_meta_bm.streams.audiences import CustomAudiencesStream, SavedAudiencesStream
from tap_meta_bm.streams.business import BusinessesStream
from tap_meta_bm.streams.creatives import AdCreativesStream, AdImagesStream, AdVideosStream
from tap_meta_bm.streams.leads import LeadFormsStream, LeadsStream
from tap_meta_bm.streams.pages import PagesStream
from tap_meta_bm.streams.people import (
    BusinessUsersStream,
    PendingUsersStream,
    SystemUsersStream,
)

STREAM_TYPES = (
    BusinessesStream,
    AdAccountsStream,
    PagesStream,
    BusinessAssetGroupsStream,
    PixelsStream,
    ProductCatalogsStream,
    LeadFormsStream,
    CampaignsStream,
    AdSetsStream,
    AdsStream,
    CustomAudiencesStream,
    SavedAudiencesStream,
    BusinessUsersStream,
    SystemUsersStream,
    PendingUsersStream,
    PartnersStream,
    AdAccountAssignmentsStream,
    PageAssignmentsStream,
    PixelAssignmentsStream,
    CatalogAssignmentsStream,
    AssetGroupAssignmentsStream,
    AdAccountAgenciesStream,
    BusinessAssetGroupAssetsStream,
    InstagramAccountsStream,
    AppsStream,
    AdAccountPixelsStream,
    CustomConversionsStream,
    AdCreativesStream,
    AdImagesStream,
    AdVideosStream,
    AdActivitiesStream,
    LeadsStream,
)
