"""The local stack: S3 + SQS (moto server), the event worker, ingest + gallery on one port.

Everything listens on loopback only. ``camcloud local`` / ``make run`` runs it until Ctrl-C;
tests use :class:`LocalStack` as a context manager. One module per job: ``aws`` (moto and
the resources), ``seed`` (demo camera and login), ``router`` (one port for two apps),
``banner``, ``signals`` (Ctrl-C), ``stack`` (start and stop in order).
"""

from camcloud_cli.local.signals import run_forever
from camcloud_cli.local.stack import DEMO_DEVICE, DEMO_USER, LocalStack

__all__ = ["DEMO_DEVICE", "DEMO_USER", "LocalStack", "run_forever"]
