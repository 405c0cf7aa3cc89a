"""WSGI entry point for gunicorn: ``gunicorn gallery.wsgi:app`` (behind nginx on the EC2 host)."""

from camcloud.settings import Settings
from gallery import create_app

# gunicorn listens on 127.0.0.1 behind exactly one nginx, which sets X-Forwarded-For/-Proto:
# trusting one hop gives the login rate limit each browser's own address (not nginx's) and
# tells HTTPS logins from plain HTTP ones. CAMCLOUD_GALLERY_PROXY_HOPS overrides the default.
_settings = Settings.from_env()
if _settings.gallery_proxy_hops is None:
    _settings = _settings.with_changes(gallery_proxy_hops=1)
app = create_app(_settings)
