"""template.yaml, SAM-translated offline: the properties a camcloud owner relies on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cfn_render import (
    ACCOUNT,
    REGION,
    allows,
    as_list,
    parameter_accepts,
    render,
    role_statements,
)

BUCKET = f"camcloud-{ACCOUNT}-{REGION}"
CAPTURE = "garden-cam/8204746599999_a4cf12-7-42"


def obj(key: str) -> str:
    """The ARN of one object in the stack's bucket."""
    return f"arn:aws:s3:::{BUCKET}/{key}"


# ------------------------------------------------------------------ the trigger


def test_only_originals_under_raw_trigger_the_thumbnailer() -> None:
    """Given the default stack, then every bucket notification filters on the raw/ prefix."""
    stack = render()

    configs = stack.props("MediaBucket")["NotificationConfiguration"]["LambdaConfigurations"]

    assert {config["Event"] for config in configs} == {
        "s3:ObjectCreated:*",
        "s3:ObjectRemoved:*",
        "s3:LifecycleExpiration:*",
    }
    for config in configs:
        assert config["Function"] == "<ThumbnailerFunction.Arn>"
        rules = {rule["Name"]: rule["Value"] for rule in config["Filter"]["S3Key"]["Rules"]}
        assert rules["prefix"] == "raw/"
    assert set(stack.of_type("AWS::Lambda::Permission")) == {
        "ThumbnailerFunctionOriginalsPermission"
    }
    permission = stack.props("ThumbnailerFunctionOriginalsPermission")
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["SourceAccount"] == ACCOUNT


def test_the_thumbnailer_cannot_write_where_it_is_triggered() -> None:
    """Given the function's role, then no write under raw/ is allowed (no recursion)."""
    statements = role_statements(render(), "ThumbnailerFunctionRole")

    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not allows(statements, action, obj(f"raw/{CAPTURE}.jpg"))


# ------------------------------------------------------------------ the bucket


def test_bucket_blocks_public_access_and_enforces_bucket_ownership() -> None:
    """Given the bucket, then all four public-access blocks are on and ACLs are disabled."""
    bucket = render().props("MediaBucket")

    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert bucket["BucketName"] == BUCKET


def test_bucket_encrypts_every_object_at_rest() -> None:
    """Given the bucket, then default encryption is on."""
    rules = render().props("MediaBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]

    assert [rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for rule in rules] == ["AES256"]


def test_bucket_policy_refuses_every_request_without_tls() -> None:
    """Given the bucket policy, then any principal's plain-HTTP request to it is denied."""
    stack = render()
    policy = stack.props("MediaBucketPolicy")
    statements = policy["PolicyDocument"]["Statement"]

    assert policy["Bucket"] == "<MediaBucket>"
    deny_plain = [s for s in statements if s.get("Condition", {}).get("Bool")]
    (statement,) = deny_plain
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"]["Bool"] == {"aws:SecureTransport": "false"}
    assert sorted(statement["Resource"]) == ["<MediaBucket.Arn>", "<MediaBucket.Arn>/*"]
    # An allow-everything identity still cannot use plain HTTP or TLS 1.0/1.1.
    anyone = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
    bucket_policy = [
        dict(
            s,
            Resource=[
                r.replace("<MediaBucket.Arn>", f"arn:aws:s3:::{BUCKET}") for r in s["Resource"]
            ],
        )
        for s in statements
    ]
    over_tls = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
    assert allows(anyone + bucket_policy, "s3:GetObject", obj("raw/x.jpg"), over_tls)
    plain = {"aws:SecureTransport": "false", "s3:TlsVersion": "0"}
    assert not allows(anyone + bucket_policy, "s3:GetObject", obj("raw/x.jpg"), plain)
    old_tls = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.1"}
    assert not allows(anyone + bucket_policy, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", old_tls)


def lifecycle(**parameters: str | int) -> dict[str, dict]:
    """The bucket's lifecycle rules by prefix ('' for bucket-wide)."""
    rules = render(**parameters).props("MediaBucket")["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    return {rule.get("Prefix", ""): rule for rule in rules}


def test_default_lifecycle_moves_originals_to_infrequent_access_and_keeps_everything() -> None:
    """Given default parameters, then originals move after 30 days and nothing expires."""
    rules = lifecycle()

    assert rules["raw/"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": "30"}
    ]
    assert "ExpirationInDays" not in rules["raw/"]
    assert rules["ids/"]["ExpirationInDays"] == 7
    assert rules[""]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert not {"thumbs/", "previews/", "meta/"} & set(rules)


def test_expiry_parameter_expires_derived_objects_with_their_originals() -> None:
    """Given an expiry of a year, then originals and everything derived expire together."""
    rules = lifecycle(
        ExpireAfterDays=365, OriginalsTransitionDays=90, OriginalsStorageClass="GLACIER_IR"
    )

    for prefix in ("raw/", "thumbs/", "previews/", "meta/"):
        assert rules[prefix]["ExpirationInDays"] == "365", prefix
    assert rules["raw/"]["Transitions"] == [
        {"StorageClass": "GLACIER_IR", "TransitionInDays": "90"}
    ]
    for prefix in ("thumbs/", "previews/", "meta/"):
        assert "Transitions" not in rules[prefix]


def test_zero_days_turns_the_originals_rule_off() -> None:
    """Given no transition and no expiry, then originals have no lifecycle rule at all."""
    assert "raw/" not in lifecycle(OriginalsTransitionDays=0, ExpireAfterDays=0)


# ------------------------------------------------------------------ least privilege

INGEST = "IngestRole"
GALLERY = "GalleryRole"
THUMBNAILER = "ThumbnailerFunctionRole"
HOST = "InstanceRole"
WITH_IF_NONE_MATCH = {"s3:if-none-match": "*"}
WITH_IF_MATCH = {"s3:if-match": '"etag-of-the-record-read"'}
SIGNED_HEADERS = {"s3:authType": "REST-HEADER"}
PRESIGNED = {"s3:authType": "REST-QUERY-STRING"}

# (role, action, key, context, allowed): what each part may do, resource by resource.
S3_ACCESS = [
    (INGEST, "s3:PutObject", f"raw/{CAPTURE}.jpg", WITH_IF_NONE_MATCH, True),
    (INGEST, "s3:PutObject", f"raw/{CAPTURE}.jpg", {}, False),  # never overwrite an original
    (INGEST, "s3:PutObject", "ids/garden-cam/a4cf12-7-42.json", WITH_IF_NONE_MATCH, True),
    (INGEST, "s3:PutObject", "ids/garden-cam/a4cf12-7-42.json", {}, False),  # reservations too
    (INGEST, "s3:GetObject", "ids/garden-cam/a4cf12-7-42.json", {}, True),
    (INGEST, "s3:GetObject", "devices/garden-cam.json", {}, True),
    (INGEST, "s3:GetObject", f"raw/{CAPTURE}.jpg", {}, False),
    (INGEST, "s3:GetObject", "users/alice.json", {}, False),
    (INGEST, "s3:PutObject", "devices/garden-cam.json", WITH_IF_NONE_MATCH, False),
    (INGEST, "s3:PutObject", "devices/garden-cam.json", {}, False),  # no blind overwrite
    (INGEST, "s3:PutObject", "devices/garden-cam.json", WITH_IF_MATCH, True),  # a report
    (INGEST, "s3:GetObject", "firmware/1.4.0/firmware.bin", {}, True),  # presigned OTA URL
    (INGEST, "s3:PutObject", "firmware/1.4.0/firmware.bin", WITH_IF_MATCH, False),
    (GALLERY, "s3:GetObject", "timelapse/garden-cam/2026-11-30.mp4", PRESIGNED, True),
    (INGEST, "s3:PutObject", f"thumbs/{CAPTURE}.jpg", WITH_IF_NONE_MATCH, False),
    (INGEST, "s3:DeleteObject", f"raw/{CAPTURE}.jpg", {}, False),
    (INGEST, "s3:DeleteObject", "ids/garden-cam/a4cf12-7-42.json", {}, False),
    (GALLERY, "s3:GetObject", f"thumbs/{CAPTURE}.jpg", {}, True),
    (GALLERY, "s3:GetObject", f"previews/{CAPTURE}.jpg", {}, True),
    (GALLERY, "s3:GetObject", f"raw/{CAPTURE}.jpg", {}, True),
    (GALLERY, "s3:GetObject", "meta/8204746599999_garden-cam_a4cf12-7-42.json", {}, True),
    (GALLERY, "s3:GetObject", "users/alice.json", SIGNED_HEADERS, True),
    (GALLERY, "s3:GetObject", "devices/garden-cam.json", SIGNED_HEADERS, True),
    (GALLERY, "s3:GetObject", f"thumbs/{CAPTURE}.jpg", PRESIGNED, True),
    (GALLERY, "s3:GetObject", "users/alice.json", PRESIGNED, False),  # no presigned hashes
    (GALLERY, "s3:GetObject", "devices/garden-cam.json", PRESIGNED, False),
    (GALLERY, "s3:GetObject", "releases/camcloud-release.tar.gz", {}, False),
    (GALLERY, "s3:DeleteObject", f"raw/{CAPTURE}.jpg", {}, True),
    (GALLERY, "s3:DeleteObject", f"thumbs/{CAPTURE}.jpg", {}, True),
    (GALLERY, "s3:DeleteObject", "devices/garden-cam.json", {}, False),
    (GALLERY, "s3:DeleteObject", "users/alice.json", {}, False),
    (GALLERY, "s3:PutObject", f"raw/{CAPTURE}.jpg", WITH_IF_NONE_MATCH, False),
    (GALLERY, "s3:PutObject", "users/alice.json", {}, False),
    (THUMBNAILER, "s3:GetObject", f"raw/{CAPTURE}.jpg", {}, True),
    (THUMBNAILER, "s3:GetObject", "devices/garden-cam.json", {}, True),
    (THUMBNAILER, "s3:GetObject", "users/alice.json", {}, False),
    (THUMBNAILER, "s3:PutObject", f"thumbs/{CAPTURE}.jpg", {}, True),
    (THUMBNAILER, "s3:PutObject", f"previews/{CAPTURE}.jpg", {}, True),
    (THUMBNAILER, "s3:PutObject", "meta/8204746599999_garden-cam_a4cf12-7-42.json", {}, True),
    (THUMBNAILER, "s3:DeleteObject", "meta/8204746599999_garden-cam_a4cf12-7-42.json", {}, True),
    (THUMBNAILER, "s3:PutObject", "devices/garden-cam.json", {}, False),
    (HOST, "s3:GetObject", "releases/camcloud-release.tar.gz", {}, True),
    (HOST, "s3:GetObject", f"raw/{CAPTURE}.jpg", {}, False),
    (HOST, "s3:GetObject", "users/alice.json", {}, False),
    (HOST, "s3:PutObject", "releases/camcloud-release.tar.gz", {}, False),
    (HOST, "s3:GetObject", "state/letsencrypt.tar.gz", {}, True),
    (HOST, "s3:PutObject", "state/letsencrypt.tar.gz", {}, True),
]


@pytest.mark.parametrize(
    ("role", "action", "key", "context", "allowed"),
    S3_ACCESS,
    ids=[
        f"{r}-{a.split(':')[1]}-{k.split('/')[0]}-{'allow' if ok else 'deny'}"
        + ("-conditional" if c else "")
        for r, a, k, c, ok in S3_ACCESS
    ],
)
def test_each_part_reaches_only_its_own_keys(
    role: str, action: str, key: str, context: dict[str, str], allowed: bool
) -> None:
    """Given a role's statements, when it asks for one action on one key, then IAM says so."""
    statements = role_statements(render(), role)

    assert allows(statements, action, obj(key), context) is allowed


def test_no_role_holds_wildcard_s3_permissions() -> None:
    """Given every role in the stack, then no statement grants s3:* or an action on '*'."""
    stack = render()

    for role in stack.of_type("AWS::IAM::Role"):
        for statement in role_statements(stack, role):
            actions = as_list(statement["Action"])
            resources = as_list(statement["Resource"])
            assert "s3:*" not in actions and "*" not in actions, role
            if any(action.startswith("s3:") for action in actions):
                assert "*" not in resources, role


def test_service_roles_are_assumable_only_from_the_instance_role() -> None:
    """Given the ingest and gallery roles, then only the host's role may assume them."""
    stack = render()

    for role in (INGEST, GALLERY):
        (trust,) = stack.props(role)["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"AWS": "<InstanceRole.Arn>"}
        assert trust["Action"] == "sts:AssumeRole"
    host = role_statements(stack, HOST)
    assert allows(host, "sts:AssumeRole", "<IngestRole.Arn>")
    assert allows(host, "sts:AssumeRole", "<GalleryRole.Arn>")
    managed = stack.props(HOST)["ManagedPolicyArns"]
    assert managed == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]


# ------------------------------------------------------------------ the host


def ingress_rules(stack) -> list[dict]:
    """Every ingress rule on the host's security group, inline or as separate resources."""
    group = stack.props("IngestSecurityGroup")
    rules = list(group.get("SecurityGroupIngress", []))
    for resource in stack.of_type("AWS::EC2::SecurityGroupIngress").values():
        assert resource["Properties"]["GroupId"] == "<IngestSecurityGroup>"
        rules.append(resource["Properties"])
    return rules


def opens_port(rule: dict, port: int) -> bool:
    """Whether an ingress rule admits TCP traffic to ``port``."""
    if str(rule["IpProtocol"]) == "-1":
        return True
    return int(rule["FromPort"]) <= port <= int(rule["ToPort"])


def test_by_default_only_http_and_https_are_open_and_ssh_is_closed() -> None:
    """Given default parameters, then the world reaches ports 80 and 443, and nothing else."""
    rules = ingress_rules(render())

    assert sorted((r["FromPort"], r["ToPort"], r["CidrIp"]) for r in rules) == [
        (80, 80, "0.0.0.0/0"),
        (443, 443, "0.0.0.0/0"),
    ]
    assert not any(opens_port(rule, 22) for rule in rules)


def test_an_admin_cidr_opens_ssh_to_that_address_alone() -> None:
    """Given AdminSshCidr, then port 22 is open to that CIDR and to nobody else."""
    rules = ingress_rules(render(AdminSshCidr="203.0.113.7/32"))

    ssh = [rule for rule in rules if opens_port(rule, 22)]
    assert [(rule["CidrIp"], rule["IpProtocol"]) for rule in ssh] == [("203.0.113.7/32", "tcp")]


def launch_data(**parameters: str | int) -> dict:
    """The launch template's data: what every host, single or in the group, starts from."""
    return render(**parameters).props("HostLaunchTemplate")["LaunchTemplateData"]


def test_host_uses_imdsv2_encrypted_disks_and_its_own_role() -> None:
    """Given the launch template, then IMDSv2 is required, disks encrypted, the profile set."""
    stack = render()
    host = launch_data()

    assert host["MetadataOptions"]["HttpTokens"] == "required"
    assert host["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert all(mapping["Ebs"]["Encrypted"] for mapping in host["BlockDeviceMappings"])
    assert host["IamInstanceProfile"] == {"Arn": "<InstanceProfile.Arn>"}
    assert stack.props("InstanceProfile")["Roles"] == ["<InstanceRole>"]
    assert host["CreditSpecification"] == {"CpuCredits": "standard"}
    assert "KeyName" not in host
    association = stack.props("ElasticIpAssociation")
    assert association == {"AllocationId": "<ElasticIp.AllocationId>", "InstanceId": "<IngestHost>"}


def user_data(**parameters: str | int) -> str:
    """The first-boot script as the instance receives it."""
    return str(launch_data(**parameters)["UserData"])


def test_first_boot_records_the_stack_and_installs_the_uploaded_release() -> None:
    """Given the user data, then it names the bucket, the roles, and fetches the updater."""
    script = user_data(DomainName="cam.example.org", MaxUploadMB="12", UndeleteDays="14")

    assert f"CAMCLOUD_BUCKET={BUCKET}\n" in script
    assert "CAMCLOUD_DOMAIN=cam.example.org\n" in script
    assert "CAMCLOUD_MAX_UPLOAD_MB=12\n" in script
    assert "CAMCLOUD_UNDELETE_DAYS=14\n" in script
    assert "CAMCLOUD_ALLOW_HTTP_LOGIN=false\n" in script
    assert "CAMCLOUD_PUBLIC_IPS=<ElasticIp>\n" in script
    assert "CAMCLOUD_INGEST_ROLE_ARN=<IngestRole.Arn>\n" in script
    assert "CAMCLOUD_GALLERY_ROLE_ARN=<GalleryRole.Arn>\n" in script
    assert "CAMCLOUD_SIGNAL_RESOURCE=IngestHost\n" in script
    assert '"releases/camcloud-update.sh"' in script and '"releases/hostctl.py"' in script
    assert script.rstrip().endswith("exec /usr/local/sbin/camcloud-update --first-boot")
    root = Path(__file__).resolve().parents[2]
    assert root.joinpath("deploy/camcloud-update.sh").is_file()
    assert root.joinpath("deploy/hostctl.py").is_file()


def test_first_boot_fetches_only_from_a_bucket_this_account_owns() -> None:
    """Given the user data, then the download names the expected bucket owner (no squatting)."""
    script = user_data()

    assert f'"ExpectedBucketOwner": "{ACCOUNT}"' in script
    updater = (Path(__file__).resolve().parents[2] / "deploy" / "hostctl.py").read_text()
    assert updater.count("ExpectedBucketOwner") >= 2


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        ("DomainName", "cam.example.org", "cam.example.org; reboot"),
        ("AcmeEmail", "me@example.org", "me@example.org' $(reboot)"),
        ("AlarmEmail", "me@example.org", "me @example.org"),
        ("AdminSshCidr", "203.0.113.7/32", "0.0.0.0/0 -j ACCEPT"),
        ("BucketPrefix", "camcloud", "CamCloud"),
    ],
)
def test_host_settings_accept_plain_values_and_nothing_a_shell_would_run(
    parameter: str, good: str, bad: str
) -> None:
    """Given the values the host writes into shell-sourced files, then only plain ones pass."""
    assert parameter_accepts(parameter, good)
    assert parameter_accepts(parameter, "") is (parameter != "BucketPrefix")
    assert not parameter_accepts(parameter, bad)


def test_first_boot_script_passes_shellcheck(tmp_path: Path) -> None:
    """Given the rendered user data, when shellcheck reads it, then it reports nothing."""
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: scripts/system-deps.sh installs it"
    script = tmp_path / "user-data.sh"
    script.write_text(user_data())

    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ thumbnailer and alarms


def test_failed_events_go_to_the_dead_letter_queue_and_both_alarm_to_the_topic() -> None:
    """Given the function, then failures dead-letter and errors and DLQ depth alarm."""
    stack = render()

    invoke = stack.props("ThumbnailerFunctionEventInvokeConfig")
    assert (
        invoke["DestinationConfig"]["OnFailure"]["Destination"]
        == "<ThumbnailerDeadLetterQueue.Arn>"
    )
    assert invoke["MaximumRetryAttempts"] == 2
    errors = stack.props("ThumbnailerErrorsAlarm")
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": "<ThumbnailerFunction>"}]
    depth = stack.props("DeadLetterDepthAlarm")
    assert (depth["Namespace"], depth["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert depth["Dimensions"] == [
        {"Name": "QueueName", "Value": "<ThumbnailerDeadLetterQueue.QueueName>"}
    ]
    for alarm in stack.of_type("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == ["<AlarmTopic>"]
        assert int(alarm["Properties"]["Threshold"]) == 1


def test_alarm_email_is_subscribed_only_when_given() -> None:
    """Given no e-mail there is no subscription; given one, it is subscribed to the topic."""
    assert not render().of_type("AWS::SNS::Subscription")

    (subscription,) = render(AlarmEmail="me@example.org").of_type("AWS::SNS::Subscription").values()

    assert subscription["Properties"] == {
        "TopicArn": "<AlarmTopic>",
        "Protocol": "email",
        "Endpoint": "me@example.org",
    }


def test_reserved_concurrency_is_a_parameter_off_by_default() -> None:
    """Given 0 the function reserves nothing (new accounts cannot); given 5 it reserves 5."""
    assert "ReservedConcurrentExecutions" not in render().props("ThumbnailerFunction")

    function = render(ThumbnailerReservedConcurrency=5).props("ThumbnailerFunction")

    assert function["ReservedConcurrentExecutions"] == "5"


def test_thumbnailer_runs_the_current_python_with_the_core_layer_and_the_bucket() -> None:
    """Given the function, then it runs python3.13 with the layer and CAMCLOUD_BUCKET set."""
    function = render().props("ThumbnailerFunction")

    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == "app.handler"
    (layer,) = render().of_type("AWS::Lambda::LayerVersion")
    assert function["Layers"] == [f"<{layer}>"]
    assert function["Environment"]["Variables"]["CAMCLOUD_BUCKET"] == BUCKET
    assert function["Architectures"] == ["arm64"]


# ------------------------------------------------------------------ outputs


def test_outputs_give_the_firmware_an_https_url_and_what_to_trust_without_a_domain() -> None:
    """Given no domain, then every URL is HTTPS on the Elastic IP and the trust names the CA."""
    outputs = render().outputs

    assert outputs["ElasticIp"] == "<ElasticIp>"
    assert outputs["UploadUrl"] == "https://<ElasticIp>/upload"
    assert outputs["GalleryUrl"] == "https://<ElasticIp>/"
    assert outputs["BucketName"] == "<MediaBucket>"
    assert outputs["FirmwareConfig"] == '#define CAMCLOUD_UPLOAD_URL "https://<ElasticIp>/upload"'
    assert "/camcloud/camcloud/tls/ca-cert" in outputs["FirmwareTrust"]
    assert outputs["TlsCaParameter"] == "/camcloud/camcloud/tls/ca-cert"
    assert not any(str(value).startswith("http://") for value in outputs.values())


def test_a_domain_switches_every_url_to_its_name_and_trust_to_lets_encrypt() -> None:
    """Given a domain name, then the upload, gallery and firmware URLs use HTTPS on it."""
    outputs = render(DomainName="cam.example.org").outputs

    assert outputs["UploadUrl"] == "https://cam.example.org/upload"
    assert outputs["GalleryUrl"] == "https://cam.example.org/"
    assert (
        outputs["FirmwareConfig"] == '#define CAMCLOUD_UPLOAD_URL "https://cam.example.org/upload"'
    )
    assert "ISRG Root X1" in outputs["FirmwareTrust"]
