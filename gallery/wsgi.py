"""WSGI entry point for gunicorn: ``gunicorn gallery.wsgi:app``."""

from gallery import create_app

app = create_app()
