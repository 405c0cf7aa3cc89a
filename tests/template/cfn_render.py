"""template.yaml as CloudFormation would see it: SAM-translated, parameters and conditions applied.

`render(**parameters)` returns the resources and outputs of one stack, with every intrinsic
function resolved to a plain value (a reference to another resource becomes ``<Name>`` or
``<Name.Attribute>``), and resources whose condition is false left out. `allows` evaluates IAM
statements for one request the way IAM does (explicit deny wins, wildcards in actions and
resources, the condition operators the template uses).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import decode_str
from samtranslator.parser.parser import Parser
from samtranslator.translator.arn_generator import ArnGenerator
from samtranslator.translator.translator import Translator

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": "camcloud",
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE = object()


@cache
def _translated() -> str:
    """The SAM-translated template, as JSON text (translation is the slow part: once)."""
    source, problems = decode_str(TEMPLATE.read_text())
    assert not problems, problems
    sam = json.loads(json.dumps(source))
    # `sam package` replaces local code folders by S3 URIs before the transform sees them.
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/fn.zip"
    sam["Resources"]["CoreLayer"]["Properties"]["ContentUri"] = "s3://artifacts/layer.zip"
    # The translator asks boto3 for a region to pick the partition; name one (no call is made).
    ArnGenerator.BOTO_SESSION_REGION_NAME = REGION
    session = boto3.session.Session(region_name=REGION)
    translated = Translator(None, Parser(), boto_session=session).translate(
        sam, parameter_values=dict(PSEUDO), get_managed_policy_map=dict
    )
    return json.dumps(translated)


@dataclass
class Stack:
    """One rendered stack: resources by logical id, outputs by name, the parameters used."""

    resources: dict[str, dict[str, Any]]
    outputs: dict[str, Any]
    parameters: dict[str, str]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """Resources of one CloudFormation type, by logical id."""
        return {name: r for name, r in self.resources.items() if r["Type"] == kind}

    def props(self, name: str) -> dict[str, Any]:
        """A resource's properties, looked up by logical id (or its SAM-hashed prefix)."""
        if name not in self.resources:
            (name,) = [n for n in self.resources if n.startswith(name)]
        return self.resources[name].get("Properties", {})


def render(**parameters: str | int) -> Stack:
    """The stack CloudFormation would create for these parameter values (others default)."""
    template = json.loads(_translated())
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    unknown = set(parameters) - set(values)
    assert not unknown, f"template has no parameters {unknown}"
    values.update({name: str(value) for name, value in parameters.items()})
    resolver = _Resolver(values, template.get("Conditions", {}))
    resources = {}
    for name, resource in template["Resources"].items():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        resolved = resolver.resolve(copy.deepcopy(resource))
        resources[name] = resolved
    outputs = {
        name: resolver.resolve(spec["Value"])
        for name, spec in template.get("Outputs", {}).items()
        if "Condition" not in spec or resolver.condition(spec["Condition"])
    }
    return Stack(resources, outputs, values)


class _Resolver:
    def __init__(self, parameters: dict[str, str], conditions: dict[str, Any]) -> None:
        self.parameters = parameters
        self.conditions = conditions

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        return f"<{name}>"

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name not in self.parameters:
                return f"<{name}>"
            return str(self.ref(name))

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                return self.sub(text, self.resolve(variables))
            if key == "Fn::GetAtt":
                target = arg if isinstance(arg, list) else arg.split(".", 1)
                return f"<{target[0]}.{target[1]}>"
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(value) for value in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Or":
                return any(self.resolve(value) for value in arg)
            if key == "Fn::And":
                return all(self.resolve(value) for value in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Base64":
                return self.resolve(arg)
            if key == "Fn::GetAZs":
                return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
            if key == "Fn::Select":
                index, values = arg
                return self.resolve(values)[int(index)]
            if key == "Fn::Join":
                separator, values = arg
                return separator.join(str(value) for value in self.resolve(values))
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}


def parameter_accepts(name: str, value: str) -> bool:
    """Whether CloudFormation would accept ``value`` for parameter ``name`` (its pattern)."""
    spec = json.loads(_translated())["Parameters"][name]
    pattern = spec.get("AllowedPattern")
    allowed = spec.get("AllowedValues")
    return (pattern is None or re.fullmatch(pattern, value) is not None) and (
        allowed is None or value in allowed
    )


def role_statements(stack: Stack, role: str) -> list[dict[str, Any]]:
    """Every IAM statement granted to ``role``: its inline policies and its policy resources."""
    properties = stack.props(role)
    documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    for resource in stack.resources.values():
        if resource["Type"] in {"AWS::IAM::RolePolicy", "AWS::IAM::Policy"}:
            attached = resource["Properties"]
            roles = attached.get("Roles", []) + [attached.get("RoleName")]
            if f"<{role}>" in roles:
                documents.append(attached["PolicyDocument"])
    return [statement for document in documents for statement in as_list(document["Statement"])]


def as_list(value: Any) -> list[Any]:
    """A policy field as a list (IAM accepts one value or a list)."""
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in as_list(patterns))


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for qualified, tests in condition.items():
        # "...IfExists": the test holds when the request carries no such key.
        if_exists = qualified.endswith("IfExists")
        operator = qualified.removesuffix("IfExists")
        for key, expected in tests.items():
            present = key in context
            if if_exists and not present:
                continue
            if operator == "Null":
                if present == (str(expected).lower() == "true"):
                    return False
            elif operator == "Bool":
                if not present or context[key].lower() != str(expected).lower():
                    return False
            elif operator == "StringEquals":
                if not present or context[key] not in as_list(expected):
                    return False
            elif operator == "StringLike":
                if not present or not _matches(expected, context[key]):
                    return False
            elif operator == "NumericLessThan":
                if not present or not float(context[key]) < float(expected):
                    return False
            else:
                raise AssertionError(f"condition operator {operator} not modelled")
    return True


def allows(
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, str] | None = None,
) -> bool:
    """Whether these identity-policy statements allow ``action`` on ``resource``."""
    context = context or {}
    allowed = False
    for statement in statements:
        if not _matches(statement["Action"], action):
            continue
        if not _matches(statement["Resource"], resource):
            continue
        if not _condition_holds(statement.get("Condition", {}), context):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed
