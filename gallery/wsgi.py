"""WSGI entry point for gunicorn: ``gunicorn gallery.wsgi:app`` (behind nginx on the EC2 host)."""

from werkzeug.middleware.proxy_fix import ProxyFix

from gallery import create_app

# gunicorn listens on 127.0.0.1 behind exactly one nginx, which sets X-Forwarded-For/-Proto:
# trusting one hop gives the login rate limit each browser's own address (not nginx's) and
# marks HTTPS requests secure, so the session cookie gets its Secure flag.
app = ProxyFix(create_app(), x_for=1, x_proto=1)
