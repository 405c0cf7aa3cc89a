"""The built thumbnailer, imported from `sam build`'s output the way Lambda imports it.

These tests need a build and an interpreter of the Lambda runtime's version (the artifact
holds compiled Pillow for it), so only scripts/test-template.sh runs them: it builds, then
runs pytest here from .venv-lambda with CAMCLOUD_LAMBDA_BUILD_DIR set. The main pytest run
collects nothing here, rather than skipping.
"""

from __future__ import annotations

import os

if not os.environ.get("CAMCLOUD_LAMBDA_BUILD_DIR"):
    collect_ignore_glob = ["test_*.py"]
