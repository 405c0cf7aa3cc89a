"""The composition root: the ``camcloud`` command and the local stack, which wire every part.

The only package that may import all the others (camcloud's services, the ingest, the gallery,
the Lambda handler); nothing imports it. See docs/architecture.md.
"""

from camcloud_cli.commands import main

__all__ = ["main"]
