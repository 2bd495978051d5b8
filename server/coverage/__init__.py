"""Coverage for county staff: indicators per grid rolled up to village, township and county (indicators.py), the
three indices with configured weights and red/yellow/grey thresholds (indices.py), JSON/GeoJSON/CSV (routes.py,
exports.py) and vector tiles (tiles.py). OGC API Features lives in server/ogc; the map page in server/web."""
