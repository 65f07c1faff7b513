"""The least an airbyte-cdk declarative source does before its first request: what start-up costs on the CDK itself.

    python -m bench.minimal_source read --config CONFIG --catalog CATALOG

A manifest of one stream (Cloud v2's space list, one page, basic auth, no custom component), started the way
Airbyte's manifest-only image starts one (airbyte-cdk's ``source_declarative_manifest``: parse the arguments,
read the config and catalog, build the source from the YAML, ``launch``), on the same airbyte-cdk as the
connector. The benchmark times it from its process start to its first request (``first_request_s``) beside the
connector's: the part of the connector's start-up that any source on this CDK pays (its imports, the
declarative schema, building a stream), against what the connector adds. Its config is the connector's
(``base_url`` and ``credentials.email`` / ``credentials.api_token``).
"""

import sys

import yaml
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource

MANIFEST = """
version: 7.0.0
type: DeclarativeSource
check:
  type: CheckStream
  stream_names: [spaces]
streams:
  - type: DeclarativeStream
    name: spaces
    primary_key: id
    schema_loader:
      type: InlineSchemaLoader
      schema: {type: object, properties: {id: {type: string}, key: {type: string}}}
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config.base_url }}/wiki/api/v2/"
        path: spaces
        http_method: GET
        request_parameters:
          limit: "250"
        authenticator:
          type: BasicHttpAuthenticator
          username: "{{ config.credentials.email }}"
          password: "{{ config.credentials.api_token }}"
      record_selector:
        type: RecordSelector
        extractor: {type: DpathExtractor, field_path: [results]}
spec:
  type: Spec
  connection_specification:
    type: object
    required: [base_url, credentials]
    properties:
      base_url: {type: string}
      credentials:
        type: object
        properties:
          email: {type: string}
          api_token: {type: string, airbyte_secret: true}
"""


def main(args=None) -> None:
    args = sys.argv[1:] if args is None else args
    parsed = AirbyteEntrypoint.parse_args(args)
    config = ConcurrentDeclarativeSource.read_config(parsed.config) if getattr(parsed, "config", None) else None
    catalog = ConcurrentDeclarativeSource.read_catalog(parsed.catalog) if getattr(parsed, "catalog", None) else None
    source = ConcurrentDeclarativeSource(source_config=yaml.safe_load(MANIFEST), config=config, catalog=catalog, state=None)
    launch(source, args)


if __name__ == "__main__":
    main()
