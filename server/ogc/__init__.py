"""OGC API - Features, Part 1 Core with GeoJSON and OpenAPI 3.0, at /ogc: grids, villages and townships.

A plain Flask blueprint, not flask-smorest: the standard fixes the paths, the query parameters (an unknown one is a
400), the links and the media types, and its service description is its own OpenAPI document (/ogc/api, built in
server/ogc/openapi.py from the same collection list the routes serve; a test checks they agree).

Who sees what: without a token, like GET /api/v1/grids, every area of the current map with its public properties
(code, name, level, parent). With the access token of a coverage viewer (county/township staff, custodian, admin,
grid chief; `Authorization: Bearer ...`, which QGIS sends with an "API header" authentication and GDAL with
GDAL_HTTP_HEADERS), only the areas of that viewer's scope, each with the coverage indicators as properties. Tips
are only ever counts; no reporter, household or person appears.
"""
