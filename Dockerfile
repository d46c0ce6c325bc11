# Kinetic services image (bridge, alerts, simulate, collect). Built by docker-compose.yml.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY alerts alerts
COPY dashboards dashboards
RUN pip install --no-cache-dir . && useradd --system --uid 10001 kinetic \
    && mkdir -p /var/lib/kinetic && chown kinetic /var/lib/kinetic
USER kinetic
ENTRYPOINT ["kinetic"]
CMD ["--help"]
