"""Tests of template.yaml and deploy/: the helper module cfn_render sits beside them."""

from __future__ import annotations

import sys
from pathlib import Path

# The tests import cfn_render by name; this holds under any pytest import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))
