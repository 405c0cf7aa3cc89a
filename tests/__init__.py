"""camcloud test suite."""
