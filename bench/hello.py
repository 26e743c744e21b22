"""The baseline for bench/catalog.py: a bare Flask "hello" app, served by gunicorn exactly like the mall."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
