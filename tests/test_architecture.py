"""The layer contract of docs/architecture.md, checked by import-linter on every test run.

Top to bottom, a layer imports only the layers below it: ``camcloud_cli`` (composition root)
-> ``ingest`` | ``gallery`` | ``lambdas`` (adapters, independent of each other) -> ``camcloud``
(services, the S3 adapter, the pure core). The pure core imports neither Flask nor boto3, no
service module imports Flask, and no package has an import cycle.

The contracts are built here rather than in pyproject.toml so that a module named by the
design but not written yet (the restructure lands in several steps) is left out instead of
making import-linter fail on a missing module; once it exists, it is checked.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from importlinter import configuration
from importlinter.application.use_cases import FAILURE, SUCCESS, lint_imports

# The `lint-imports` command wires import-linter's settings (readers, graph builder, timer)
# when it is imported; the function used here needs the same.
configuration.configure()

ROOTS = ["camcloud_cli", "ingest", "gallery", "lambdas", "camcloud"]
# The pure core: plain values in and out, testable without moto.
PURE = [
    "camcloud.layout", "camcloud.validation", "camcloud.records", "camcloud.settings",
    "camcloud.imaging", "camcloud.errors", "camcloud.bounded", "camcloud.files",
    "camcloud.ratelimit", "camcloud.sigv4", "camcloud.triggers", "camcloud.cadence",
]
# Services of the adapters' packages: no Flask, so they are testable without HTTP.
SERVICES = ["ingest.service", "ingest.spool", "ingest.drainer", "gallery.queries",
            "gallery.services", "gallery.health", "gallery.listing", "gallery.guards",
            "gallery.presign", "gallery.device_queries", "gallery.jobs",
            "gallery.timelapses", "gallery.sharing", "gallery.alerting"]
WEB = ["flask", "click"]
AWS = ["boto3", "botocore"]


def existing(modules: list[str]) -> list[str]:
    """The modules of ``modules`` that exist today."""
    return [name for name in modules if importlib.util.find_spec(name) is not None]


def contracts() -> list[dict[str, Any]]:
    """The import-linter contracts of the layer design."""
    return [
        {
            "id": "layers",
            "name": "composition root > independent adapters > camcloud",
            "type": "layers",
            "layers": ["camcloud_cli", "ingest | gallery | lambdas", "camcloud"],
        },
        {
            "id": "camcloud-no-web",
            "name": "camcloud imports neither Flask nor click",
            "type": "forbidden",
            "source_modules": ["camcloud"],
            "forbidden_modules": WEB,
        },
        {
            "id": "pure-core",
            "name": "the pure core imports neither Flask nor boto3/botocore",
            "type": "forbidden",
            "source_modules": existing(PURE),
            "forbidden_modules": WEB + AWS,
        },
        {
            "id": "services-no-flask",
            "name": "service modules never import Flask",
            "type": "forbidden",
            "source_modules": existing(SERVICES),
            "forbidden_modules": ["flask"],
        },
        {
            "id": "no-cycles",
            "name": "no import cycles between the modules of a package",
            "type": "acyclic_siblings",
            "ancestors": ROOTS,
        },
    ]


def write_config(path: Path, roots: list[str], contract_list: list[dict[str, Any]]) -> Path:
    """An import-linter TOML config at ``path`` (JSON strings and lists are valid TOML)."""
    lines = ["[tool.importlinter]", f"root_packages = {json.dumps(roots)}",
             "include_external_packages = true",
             # Annotations only: they cost nothing at run time and cannot form a cycle.
             "exclude_type_checking_imports = true"]
    for contract in contract_list:
        lines.append("[[tool.importlinter.contracts]]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in contract.items())
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The contracts of the layer design, for the modules that exist today."""
    return write_config(tmp_path_factory.mktemp("importlinter") / "contracts.toml", ROOTS,
                        [contract for contract in contracts()
                         if contract.get("source_modules", True)])


@pytest.mark.parametrize("contract_id", [contract["id"] for contract in contracts()])
def test_the_import_contract_holds(config: Path, contract_id: str) -> None:
    """Given every package as it is, when import-linter checks the contract, then it is kept
    (on failure, import-linter's report above names the offending import chain)."""
    assert lint_imports(config_filename=str(config), limit_to_contracts=(contract_id,),
                        cache_dir=None, no_logo=True) == SUCCESS


def test_a_layer_violation_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a lower layer that imports the composition root, when the contract is checked,
    then import-linter reports it, and once the import is gone it does not (the contract test
    can fail for the right reason: it is not a formality)."""
    for package in ("top", "low"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("def main() -> None: ...\n")
    (tmp_path / "low" / "wiring.py").write_text("from top import main\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = write_config(tmp_path / "contracts.toml", ["top", "low"], [
        {"id": "layers", "name": "layers", "type": "layers", "layers": ["top", "low"]}])

    assert lint_imports(config_filename=str(config), cache_dir=None,
                        no_logo=True) == FAILURE
    (tmp_path / "low" / "wiring.py").write_text("import json\n")
    assert lint_imports(config_filename=str(config), cache_dir=None,
                        no_logo=True) == SUCCESS
