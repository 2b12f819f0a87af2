"""Runs a peer Facebook tap (MeltanoLabs `tap_facebook` or singer-io `tap_facebook`) against the
fake Graph API, for the insights benchmark (`benchmarks/insights.py`).

Both reach Graph through Meta's `facebook_business` SDK, whose base URL and API version are
class attributes: this wrapper points them at the fake (PEER_GRAPH_URL, v26.0) and then hands
over to the tap's own entry point. It runs inside the peer's own virtualenv.
"""

from __future__ import annotations

import os
import sys

from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession

FacebookSession.GRAPH = os.environ["PEER_GRAPH_URL"].rstrip("/")
FacebookAdsApi.API_VERSION = "v26.0"

if __name__ == "__main__":
    if os.environ.get("PEER") == "singer-io":
        from tap_facebook import main
    else:
        from tap_facebook.tap import TapFacebook
        main = TapFacebook.cli
    sys.argv[0] = "tap-facebook"
    main()
