"""template.yaml's ingest host(s): safe replacement, state outside the host, one or many hosts.

Issue 11: a routine deploy must never replace the host by surprise, a new host takes traffic
only after /readyz, what it cannot drain survives it, and IngestHosts >= 2 runs a group behind
a Network Load Balancer that keeps the Elastic IP cameras were flashed with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfn_render import TEMPLATE, allows, render, role_statements
from cfnlint.decode import decode_str

HOST = "InstanceRole"
STACK_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/camcloud/camcloud"


def source_template() -> dict[str, Any]:
    """template.yaml as written (before SAM's transform), as plain JSON values."""
    source, problems = decode_str(TEMPLATE.read_text())
    assert not problems, problems
    return json.loads(json.dumps(source))


# ------------------------------------------------------------------ safe replacement


def test_regression_a_new_canonical_image_no_longer_replaces_the_host_on_deploy() -> None:
    """Given the ImageId parameter, then it is a plain image id, never the SSM 'current' path."""
    parameter = source_template()["Parameters"]["ImageId"]

    assert parameter["Type"] == "AWS::EC2::Image::Id"
    assert "Default" not in parameter
    assert (
        render(ImageId="ami-0abc").props("HostLaunchTemplate")["LaunchTemplateData"]["ImageId"]
        == "ami-0abc"
    )


def test_regression_the_elastic_ip_moves_only_to_a_host_that_signalled_ready() -> None:
    """Given one host, then it must signal (after /readyz) before the address is moved to it."""
    source = source_template()["Resources"]
    stack = render()

    assert source["IngestHost"]["CreationPolicy"]["ResourceSignal"]["Count"] == 1
    # The association names the instance, so CloudFormation moves the address only once the
    # instance resource is complete, which the creation policy holds back until the signal.
    assert stack.props("ElasticIpAssociation")["InstanceId"] == "<IngestHost>"
    updater = (Path(__file__).resolve().parents[2] / "deploy" / "camcloud-update.sh").read_text()
    assert "signal SUCCESS" in updater and "signal FAILURE" in updater


def test_regression_the_spool_survives_the_host_on_its_own_volume() -> None:
    """Given the launch template, then the data volume outlives the host; the root does not."""
    mappings = {
        mapping["DeviceName"]: mapping["Ebs"]
        for mapping in render(DataVolumeGB=40).props("HostLaunchTemplate")["LaunchTemplateData"][
            "BlockDeviceMappings"
        ]
    }

    assert mappings["/dev/sda1"]["DeleteOnTermination"] is True
    assert mappings["/dev/sda1"]["VolumeSize"] == 16
    assert mappings["/dev/sdf"] == {
        "VolumeType": "gp3",
        "VolumeSize": "40",
        "Encrypted": True,
        "DeleteOnTermination": False,
    }


def test_the_elastic_ip_is_kept_even_when_the_stack_is_deleted() -> None:
    """Given the address flashed into cameras, then CloudFormation never releases it."""
    resources = source_template()["Resources"]

    for name in ("ElasticIp", "ElasticIp2"):
        assert resources[name]["DeletionPolicy"] == "Retain"
        assert resources[name]["UpdateReplacePolicy"] == "Retain"


def test_host_state_lives_in_parameter_store_and_the_bucket_of_this_stack_only() -> None:
    """Given the host's role, then it may read and write its stack's parameters and state/."""
    statements = role_statements(render(), HOST)

    assert allows(statements, "ssm:GetParameter", f"{STACK_ARN}/gallery-secret")
    assert allows(statements, "ssm:PutParameter", f"{STACK_ARN}/tls/ca-key")
    assert not allows(statements, "ssm:GetParameter", f"{STACK_ARN}-other/gallery-secret")
    assert not allows(statements, "ssm:DeleteParameter", f"{STACK_ARN}/gallery-secret")
    (signal,) = [s for s in statements if s["Action"] == "cloudformation:SignalResource"]
    assert signal["Resource"] == "<AWS::StackId>"


def test_only_this_stacks_volumes_can_be_attached_or_deleted_by_a_host() -> None:
    """Given the rescue permissions, then they hold only for resources tagged with the stack."""
    statements = role_statements(render(), HOST)
    volume = "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123"

    assert allows(
        statements, "ec2:DeleteVolume", volume, {"aws:ResourceTag/camcloud-stack": "camcloud"}
    )
    assert not allows(
        statements, "ec2:DeleteVolume", volume, {"aws:ResourceTag/camcloud-stack": "other"}
    )
    assert not allows(statements, "ec2:DeleteVolume", volume)


def test_a_failed_update_raises_an_alarm_and_only_that_metric_can_be_written() -> None:
    """Given the update alarm, then the host's metric pages the topic; other namespaces no."""
    stack = render()
    alarm = stack.props("UpdateFailedAlarm")
    statements = role_statements(stack, HOST)

    assert (alarm["Namespace"], alarm["MetricName"]) == ("camcloud/host", "UpdateFailed")
    assert alarm["Dimensions"] == [{"Name": "Stack", "Value": "camcloud"}]
    assert alarm["AlarmActions"] == ["<AlarmTopic>"]
    assert allows(
        statements, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "camcloud/host"}
    )
    assert not allows(
        statements, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/EC2"}
    )


# ------------------------------------------------------------------ bucket


def test_regression_a_gallery_delete_can_be_undone_for_undelete_days() -> None:
    """Given versioning, then deleted versions are kept UndeleteDays and then expire."""
    bucket = render(UndeleteDays=14).props("MediaBucket")
    (bucket_wide,) = [r for r in bucket["LifecycleConfiguration"]["Rules"] if "Prefix" not in r]

    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket_wide["NoncurrentVersionExpiration"] == {"NoncurrentDays": "14"}
    assert bucket_wide["ExpiredObjectDeleteMarker"] is True
    assert "CAMCLOUD_UNDELETE_DAYS=14\n" in str(
        render(UndeleteDays=14).props("HostLaunchTemplate")["LaunchTemplateData"]["UserData"]
    )


def test_regression_the_bucket_itself_refuses_an_ingest_put_without_if_none_match() -> None:
    """Given the bucket policy, then the ingest role's unconditional PUT is denied there too."""
    statements = render().props("MediaBucketPolicy")["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s.get("Sid") == "IngestWritesOnlyIfAbsent"]

    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "<IngestRole.Arn>"}
    assert sorted(deny["Resource"]) == ["<MediaBucket.Arn>/ids/*", "<MediaBucket.Arn>/raw/*"]
    assert deny["Condition"] == {"Null": {"s3:if-none-match": "true"}}


@pytest.mark.parametrize(
    ("role", "prefix", "allowed"),
    [
        ("IngestRole", "devices/", True),
        ("IngestRole", "users/", False),
        ("IngestRole", "meta/", False),
        ("GalleryRole", "meta/", True),
        ("GalleryRole", "thumbs/garden-cam/", True),
        ("GalleryRole", "releases/", False),
        ("GalleryRole", "state/", False),
        ("ThumbnailerFunctionRole", "raw/", True),
        ("ThumbnailerFunctionRole", "users/", False),
    ],
)
def test_regression_listings_are_limited_to_each_parts_own_prefixes(
    role: str, prefix: str, allowed: bool
) -> None:
    """Given a role's ListBucket grant, then it lists only its prefixes; 404 checks still work."""
    statements = role_statements(render(), role)
    bucket = "arn:aws:s3:::camcloud-123456789012-us-east-1"

    assert allows(statements, "s3:ListBucket", bucket, {"s3:prefix": prefix}) is allowed
    # S3 checks ListBucket without a prefix to answer 404 rather than 403 for a missing key.
    assert allows(statements, "s3:ListBucket", bucket)


# ------------------------------------------------------------------ several hosts


def test_one_host_by_default_and_no_load_balancer_to_pay_for() -> None:
    """Given IngestHosts=1, then there is an instance and no group, load balancer or 2nd IP."""
    stack = render()

    assert stack.of_type("AWS::EC2::Instance")
    assert not stack.of_type("AWS::AutoScaling::AutoScalingGroup")
    assert not stack.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert list(stack.of_type("AWS::EC2::EIP")) == ["ElasticIp"]


def test_several_hosts_run_in_two_zones_behind_a_load_balancer_holding_the_same_address() -> None:
    """Given IngestHosts=3, then a group of 3 in two AZs behind an NLB with the kept EIP."""
    stack = render(IngestHosts=3)
    group = stack.props("IngestGroup")
    balancer = stack.props("LoadBalancer")

    assert not stack.of_type("AWS::EC2::Instance")
    assert "ElasticIpAssociation" not in stack.resources
    assert (group["MinSize"], group["DesiredCapacity"]) == ("3", "3")
    assert group["VPCZoneIdentifier"] == ["<PublicSubnet>", "<PublicSubnet2>"]
    zones = {
        stack.props(subnet)["AvailabilityZone"] for subnet in ("PublicSubnet", "PublicSubnet2")
    }
    assert len(zones) == 2
    assert balancer["Type"] == "network"
    assert balancer["SubnetMappings"] == [
        {"SubnetId": "<PublicSubnet>", "AllocationId": "<ElasticIp.AllocationId>"},
        {"SubnetId": "<PublicSubnet2>", "AllocationId": "<ElasticIp2.AllocationId>"},
    ]
    assert "CAMCLOUD_PUBLIC_IPS=<ElasticIp>,<ElasticIp2>\n" in str(
        stack.props("HostLaunchTemplate")["LaunchTemplateData"]["UserData"]
    )


def test_the_load_balancer_checks_healthz_and_passes_tls_through() -> None:
    """Given the target groups, then both forward TCP and check plain /healthz on port 80."""
    stack = render(IngestHosts=2)

    for name, port in (("HttpTargets", 80), ("HttpsTargets", 443)):
        targets = stack.props(name)
        assert (targets["Protocol"], targets["Port"]) == ("TCP", port)
        assert (targets["HealthCheckProtocol"], targets["HealthCheckPath"]) == ("HTTP", "/healthz")
        assert targets["HealthCheckPort"] == "80"
    listeners = {
        stack.props(name)["Port"]: stack.props(name)["DefaultActions"][0]["TargetGroupArn"]
        for name in ("HttpListener", "HttpsListener")
    }
    assert listeners == {80: "<HttpTargets>", 443: "<HttpsTargets>"}
    assert stack.props("IngestGroup")["TargetGroupARNs"] == ["<HttpTargets>", "<HttpsTargets>"]


def test_group_updates_replace_one_ready_host_at_a_time_and_drain_on_termination() -> None:
    """Given the group, then rolling updates wait for signals and termination waits a drain."""
    source = source_template()["Resources"]["IngestGroup"]
    stack = render(IngestHosts=2)
    rolling = source["UpdatePolicy"]["AutoScalingRollingUpdate"]

    assert rolling["WaitOnResourceSignals"] is True
    assert rolling["MaxBatchSize"] == 1
    assert rolling["MinInstancesInService"] == {"Ref": "IngestHosts"}
    assert source["CreationPolicy"]["ResourceSignal"]["Count"] == {"Ref": "IngestHosts"}
    (hook,) = stack.props("IngestGroup")["LifecycleHookSpecificationList"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["DefaultResult"] == "CONTINUE"
    user_data = str(stack.props("HostLaunchTemplate")["LaunchTemplateData"]["UserData"])
    assert "CAMCLOUD_SIGNAL_RESOURCE=IngestGroup\n" in user_data
    assert f"CAMCLOUD_LIFECYCLE_HOOK={hook['LifecycleHookName']}\n" in user_data
    assert "CAMCLOUD_AUTOSCALING_GROUP=camcloud-ingest\n" in user_data
    assert stack.props("IngestGroup")["AutoScalingGroupName"] == "camcloud-ingest"


def test_several_hosts_alarm_on_an_unhealthy_target_instead_of_a_status_check() -> None:
    """Given IngestHosts=2, then the instance alarm gives way to the target-health alarm."""
    stack = render(IngestHosts=2)

    assert "IngestHostStatusAlarm" not in stack.resources
    alarm = stack.props("UnhealthyHostsAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/NetworkELB", "UnHealthyHostCount")


# ------------------------------------------------------------------ checkov


def test_every_accepted_checkov_finding_is_skipped_with_its_reason() -> None:
    """Given the template's checkov skips, then each names a check and says why in words."""
    skips = [
        (name, skip)
        for name, resource in source_template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]

    assert skips
    for name, skip in skips:
        assert skip["id"].startswith(("CKV_AWS_", "CKV2_AWS_")), name
        assert len(skip.get("comment", "").split()) >= 6, (
            f"{name} skips {skip['id']} without a reason"
        )
