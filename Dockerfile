FROM python:3.11-slim
WORKDIR /app
# npm vendors Leaflet and Swagger UI at build time (no CDN at run time); DejaVu Sans renders the label glyphs.
RUN apt-get update -q && apt-get install -y -q --no-install-recommends npm fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md alembic.ini ./
COPY gis_service ./gis_service
COPY migrations ./migrations
COPY layers ./layers
RUN pip install --no-cache-dir -e . && gis-service map vendor
ENV GIS_LAYERS_DIR=/app/layers
EXPOSE 8000
CMD ["gis-service", "serve", "--host", "0.0.0.0"]
