"""camcloud's shared core: S3 layout, settings, validation, S3 adapter, registries, CLI."""

__version__ = "0.1.0"
