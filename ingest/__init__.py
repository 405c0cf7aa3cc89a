"""The ingest service: cameras POST JPEGs to ``/upload``; each lands once under ``raw/``.

Layers (docs/architecture.md): ``ingest.app`` and the blueprints (``upload``, ``ops``) are
the Flask adapter; ``ingest.service`` and what it uses (gate, body, keeper, store, spool,
drainer, metrics) never import Flask; ``ingest.wiring`` builds them into ``Services``.
"""

from ingest.app import create_app, start_background
from ingest.current import services_of

__all__ = ["create_app", "services_of", "start_background"]
