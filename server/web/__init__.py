"""Pages for people, and front-end assets installed from npm (never a CDN).

`make run`/`make test` run `npm ci` in server/web, so node_modules/ holds the exact versions in
package-lock.json. Only the packages listed in VENDORED are served, from their dist folders.
"""

from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory

WEB_DIR = Path(__file__).resolve().parent
NODE_MODULES = WEB_DIR / "node_modules"
VENDORED = {"swagger-ui-dist": "", "leaflet": "dist"}

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/static", template_folder="templates")


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    if package not in VENDORED:
        abort(404)
    return send_from_directory(NODE_MODULES / package / VENDORED[package], filename, max_age=86400)


@bp.get("/map")
def coverage_map():
    """The county coverage map (server/web/static/map): logs in with phone + password and calls /api/v1/coverage."""
    return render_template("map.html")
