"""Rasters: COGs derived from the vector layers (rasterio), read as tiles with rio-tiler; SDF label glyphs."""
