# vastbid container: a wheel built in one stage, installed into a virtualenv, copied into a slim runtime.
#
#   docker build -t vastbid .
#   docker run -p 127.0.0.1:9464:9464 -v vastbid-data:/var/lib/vastbid vastbid                 # simulator
#   docker run -e VAST_API_KEY=... -v ./vastbid.toml:/etc/vastbid/vastbid.toml:ro \
#              -v vastbid-data:/var/lib/vastbid vastbid run --config /etc/vastbid/vastbid.toml --http 0.0.0.0:9464
#
# The key comes from the environment (VAST_API_KEY) or a mounted key file named in the config; it is never baked
# into the image. The SQLite database lives on the /var/lib/vastbid volume.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && python -m venv /opt/vastbid \
    && /opt/vastbid/bin/pip install --no-cache-dir /dist/vastbid-*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="vastbid" \
      org.opencontainers.image.description="Buys GPU capacity on the Vast.ai marketplace within the owner's budget" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/vastbid/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VASTBID_DATABASE__URL=sqlite:////var/lib/vastbid/vastbid.db
RUN groupadd --system --gid 10001 vastbid \
    && useradd --system --uid 10001 --gid vastbid --home-dir /var/lib/vastbid --no-create-home \
       --shell /usr/sbin/nologin vastbid \
    && mkdir -p /var/lib/vastbid /etc/vastbid \
    && chown vastbid:vastbid /var/lib/vastbid \
    && chmod 0700 /var/lib/vastbid
COPY --from=build /opt/vastbid /opt/vastbid
WORKDIR /var/lib/vastbid
VOLUME ["/var/lib/vastbid"]
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=5)"]
ENTRYPOINT ["vastbid"]
CMD ["run", "--simulate", "--http", "0.0.0.0:9464"]
