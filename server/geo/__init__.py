"""Geometry helpers: datum conversion, metric approximations, GeoJSON, the routing index and map validation."""
