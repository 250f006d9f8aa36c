"""Reading, validating and loading layer files into PostGIS."""
