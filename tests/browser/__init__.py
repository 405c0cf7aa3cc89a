"""Browser tests: real Chromium through Playwright against the local stack."""
