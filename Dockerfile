FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY gis_service ./gis_service
COPY migrations ./migrations
COPY layers ./layers
RUN pip install --no-cache-dir -e .
ENV GIS_LAYERS_DIR=/app/layers
EXPOSE 8000
CMD ["gis-service", "serve", "--host", "0.0.0.0"]
