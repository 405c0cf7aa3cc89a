"""camcloud's shared core: pure core, S3 adapter and services (docs/architecture.md)."""

__version__ = "0.1.0"
