# The image users add to Airbyte. CI cannot run a Docker engine, so it checks the same install
# steps (pip install of this project, then `source-confluence spec`) in a fresh virtual environment.
FROM docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

WORKDIR /airbyte/integration_code
COPY pyproject.toml README.md ./
COPY source_confluence ./source_confluence
RUN pip install --no-cache-dir .

ENV AIRBYTE_ENTRYPOINT="source-confluence"
ENTRYPOINT ["source-confluence"]

LABEL io.airbyte.name=ghcr.io/confluence-complete/source-confluence-complete
LABEL io.airbyte.version=2.0.0
