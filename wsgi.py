"""WSGI entry point: ``gunicorn wsgi:app`` (the only module that creates an app at import)."""

from mall import create_app

app = create_app()
