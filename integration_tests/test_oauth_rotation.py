"""Every OAuth authenticator of a sync spends the one rotating refresh token the last refresh returned.

A sync builds many: one per requester (the content streams by ``PageCheckpointingFactory``, the rest by the
CDK). The CDK's ``SingleUseRefreshTokenOauth2Authenticator`` (the manifest's ``refresh_token_updater``) keeps the tokens in the config it was built with, and refreshes under one lock for
all instances; so they share the tokens as long as they are all built with the one config. One built with a
copy would refresh, after the other instances rotated the token, with a retired one: past Atlassian's
10-minute leeway that revokes the whole token family and ends the sync.
"""

import gc

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.http.requests_native_auth.abstract_oauth import AbstractOauth2Authenticator
from airbyte_cdk.test.catalog_builder import CatalogBuilder

from confluence_emulator import Emulator
from integration_tests.emulator_configs import connector_config
from source_confluence import SourceConfluence

STREAMS = ("space", "pages", "blog_posts", "comments", "attachments", "group", "audit")


def test_every_oauth_authenticator_of_a_sync_spends_the_latest_refresh_token():
    # Its own emulator: the test moves the site's clock.
    with Emulator(profile="gateway", seed=71, pages=20) as emulator:
        catalog = CatalogBuilder()
        for stream in STREAMS:
            catalog = catalog.with_stream(stream, SyncMode.full_refresh)
        source = SourceConfluence(config=connector_config(emulator.info, "oauth2"), catalog=catalog.build())
        # What the CDK's read passes: its streams, then the content streams built again.
        streams = source.streams(source._config)
        gc.collect()
        endpoint = source._config["oauth_token_url"]  # this emulator's, unlike other tests' authenticators
        authenticators = [
            found for found in gc.get_objects()
            if isinstance(found, AbstractOauth2Authenticator) and found.get_token_refresh_endpoint() == endpoint
        ]
        assert len(authenticators) > len(streams)

        authenticators[0].get_auth_header()  # the first refresh, on the token the user gave
        emulator.admin.advance_clock(2 * 3600)  # past the access token's hour and the reuse leeway
        for authenticator in authenticators:  # as after a 401, each in turn: each must send the latest token
            authenticator.refresh_and_set_access_token()

        # One built on a copy of the config would send a token another had rotated: "reused" or "revoked".
        assert emulator.admin.stats()["oauth_refreshes"] == {"fresh": 1 + len(authenticators)}
