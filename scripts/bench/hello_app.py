"""The baseline of the intake benchmark: a bare Flask endpoint, served the same way (gunicorn, 2 workers)."""

from flask import Flask

app = Flask(__name__)


@app.post("/hello")
def hello():
    return {"ok": True}, 201
