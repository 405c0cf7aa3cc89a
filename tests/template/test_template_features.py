"""template.yaml, SAM-translated offline: time-lapse (issue 15), device management (16), alerts,
share links and exports (17): the functions, their schedules, permissions, queues, alarms and
lifecycle rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfn_render import (
    ACCOUNT,
    REGION,
    Stack,
    allows,
    parameter_accepts,
    render,
    role_statements,
)

BUCKET = f"camcloud-{ACCOUNT}-{REGION}"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
CAPTURE = "garden-cam/8204746599999_a4cf12-7-42"
TIMELAPSE = "TimelapseFunctionRole"
ALERTS = "AlertsFunctionRole"
INGEST = "IngestRole"
GALLERY = "GalleryRole"
THUMBNAILER = "ThumbnailerFunctionRole"
KEY_PARAMETER_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/camcloud/camcloud/alerts-key"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-0000-4000-8000-000000000001"
VIA_SSM = {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}
WITH_IF_MATCH = {"s3:if-match": '"etag-of-the-document-read"'}
PRESIGNED = {"s3:authType": "REST-QUERY-STRING"}


def obj(key: str) -> str:
    """The ARN of one object in the stack's bucket."""
    return f"{BUCKET_ARN}/{key}"


def lifecycle_rules(stack: Stack) -> dict[str, dict[str, Any]]:
    """The bucket's lifecycle rules by id."""
    rules = stack.props("MediaBucket")["LifecycleConfiguration"]["Rules"]
    return {rule["Id"]: rule for rule in rules}


# ------------------------------------------------------------------ time-lapse (issue 15)


def test_timelapse_function_is_sized_for_a_day_of_encoding_on_arm64() -> None:
    """Given the default stack, then the builder runs python3.13 on arm64 with one full vCPU
    (1,769 MB), Lambda's 15 minutes, room in /tmp for the MP4, the core layer and the
    gallery's time zone."""
    stack = render(GalleryTimezone="Europe/Berlin")
    function = stack.props("TimelapseFunction")

    assert (function["Runtime"], function["Handler"]) == ("python3.13", "app.handler")
    assert function["Architectures"] == ["arm64"]
    assert (function["MemorySize"], function["Timeout"]) == (1769, 900)
    assert function["EphemeralStorage"] == {"Size": 1024}
    (layer,) = stack.of_type("AWS::Lambda::LayerVersion")
    assert function["Layers"] == [f"<{layer}>"]
    variables = function["Environment"]["Variables"]
    assert variables["CAMCLOUD_BUCKET"] == BUCKET
    assert variables["CAMCLOUD_GALLERY_TIMEZONE"] == "Europe/Berlin"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "camcloud-timelapse"


def test_the_daily_schedule_runs_after_midnight_in_the_gallerys_time_zone() -> None:
    """Given a gallery in Berlin, then EventBridge Scheduler invokes the builder at 00:15
    Berlin time with the schedule event the handler fans out (its scheduled time picks the
    day), retries, and dead-letters what it could not deliver."""
    stack = render(GalleryTimezone="Europe/Berlin")

    (name,) = stack.of_type("AWS::Scheduler::Schedule").keys() & {"TimelapseFunctionDaily"}
    schedule = stack.props(name)
    assert schedule["ScheduleExpression"] == "cron(15 0 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert schedule["Name"] == "camcloud-timelapse-daily"
    target = schedule["Target"]
    assert target["Arn"] == "<TimelapseFunction.Arn>"
    assert json.loads(target["Input"]) == {
        "action": "schedule", "time": "<aws.scheduler.scheduled-time>"
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["DeadLetterConfig"] == {"Arn": "<TimelapseDeadLetterQueue.Arn>"}
    scheduler = role_statements(stack, "TimelapseFunctionDailyRole")
    assert allows(scheduler, "lambda:InvokeFunction", "<TimelapseFunction.Arn>")
    assert allows(scheduler, "sqs:SendMessage", "<TimelapseDeadLetterQueue.Arn>")


def test_the_sample_schedule_event_is_the_one_the_schedule_sends() -> None:
    """Given events/timelapse-schedule.json (what `sam local invoke` and the tests use), then
    it has the shape of the schedule's input, with a time where the placeholder is."""
    from pathlib import Path

    sample = json.loads((Path(__file__).resolve().parents[2] / "events" /
                         "timelapse-schedule.json").read_text())
    target = render().props("TimelapseFunctionDaily")["Target"]

    assert set(sample) == set(json.loads(target["Input"]))
    assert sample["action"] == "schedule"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
                                  "Etc/GMT+5"])
def test_time_zone_parameter_accepts_iana_names(zone: str) -> None:
    """Given IANA zone names, then the parameter accepts them."""
    assert parameter_accepts("GalleryTimezone", zone)


@pytest.mark.parametrize("zone", ["", "Europe/Berlin; reboot", "$(id)", "../etc"])
def test_time_zone_parameter_refuses_what_a_shell_would_run(zone: str) -> None:
    """Given values that are not zone names, then CloudFormation refuses them."""
    assert not parameter_accepts("GalleryTimezone", zone)


TIMELAPSE_ACCESS = [
    ("s3:GetObject", obj(f"previews/{CAPTURE}.jpg"), {}, True),
    ("s3:GetObject", obj("meta/8204746599999_garden-cam_a4cf12-7-42.json"), {}, True),
    ("s3:PutObject", obj("timelapse/garden-cam/2026-11-30.mp4"), {}, True),
    ("s3:PutObject", obj("timelapse/garden-cam/2026-11-30.json"), {}, True),
    ("s3:AbortMultipartUpload", obj("timelapse/garden-cam/2026-11-30.mp4"), {}, True),
    ("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "previews/"}, True),
    ("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "previews/garden-cam/"}, True),
    ("s3:ListBucket", BUCKET_ARN, {}, True),  # the prefix-less check for a 404
    ("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "raw/"}, False),
    ("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "users/"}, False),
    ("s3:GetObject", obj(f"raw/{CAPTURE}.jpg"), {}, False),
    ("s3:GetObject", obj("users/alice.json"), {}, False),
    ("s3:GetObject", obj("devices/garden-cam.json"), {}, False),
    ("s3:PutObject", obj(f"previews/{CAPTURE}.jpg"), {}, False),
    ("s3:PutObject", obj("meta/8204746599999_garden-cam_a4cf12-7-42.json"), {}, False),
    ("s3:DeleteObject", obj("timelapse/garden-cam/2026-11-30.mp4"), {}, False),
    # A custom range's record: read (queued by the gallery), rewritten with progress.
    ("s3:GetObject", obj("jobs/QrBl4b8hU_FGajvX.json"), {}, True),
    ("s3:PutObject", obj("jobs/QrBl4b8hU_FGajvX.json"), {}, True),
    ("s3:DeleteObject", obj("jobs/QrBl4b8hU_FGajvX.json"), {}, False),
    ("s3:PutObject", obj("shares/0123456789abcdef0123.json"), {}, False),
    ("lambda:InvokeFunction",
     f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:camcloud-timelapse", {}, True),
    ("lambda:InvokeFunction",
     f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:camcloud-other", {}, False),
]


@pytest.mark.parametrize(("action", "resource", "context", "allowed"), TIMELAPSE_ACCESS,
                         ids=[f"{a}-{r.rsplit(':', 1)[-1]}-{c}" for a, r, c, _ in
                              TIMELAPSE_ACCESS])
def test_timelapse_reads_previews_and_records_and_writes_only_videos(
        action: str, resource: str, context: dict[str, str], allowed: bool) -> None:
    """Given the builder's role, then it reads meta/ and previews/, lists previews/ only,
    writes only timelapse/, and invokes only itself (the per-camera fan-out)."""
    statements = role_statements(render(), TIMELAPSE)

    assert allows(statements, action, resource, context) is allowed


def test_the_fan_out_names_the_function_the_policy_lets_it_invoke() -> None:
    """Given the stack, then the function's name is the one its self-invoke statement names
    (the handler invokes its own ARN from the context)."""
    stack = render()

    name = stack.props("TimelapseFunction")["FunctionName"]
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

    assert allows(role_statements(stack, TIMELAPSE), "lambda:InvokeFunction", arn)


def test_the_gallery_host_invokes_exactly_the_timelapse_function_it_is_told_about() -> None:
    """Given the stack, then the gallery's role may invoke the time-lapse function and no other
    function, and the host's configuration names that function (gallery.jobs.default_runner
    then builds custom ranges there, asynchronously)."""
    stack = render()
    gallery = role_statements(stack, GALLERY)
    name = stack.props("TimelapseFunction")["FunctionName"]

    assert allows(gallery, "lambda:InvokeFunction", "<TimelapseFunction.Arn>")
    assert not allows(gallery, "lambda:InvokeFunction",
                      f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}-other")
    assert not allows(gallery, "lambda:InvokeFunction", "<ThumbnailerFunction.Arn>")
    assert not allows(gallery, "lambda:UpdateFunctionCode", "<TimelapseFunction.Arn>")
    user_data = str(stack.props("HostLaunchTemplate")["LaunchTemplateData"]["UserData"])
    assert "CAMCLOUD_TIMELAPSE_FUNCTION=<TimelapseFunction>\n" in user_data


def test_failed_timelapse_days_dead_letter_and_alarm() -> None:
    """Given the builder, then an invocation that fails three times lands in its own
    dead-letter queue, whose depth alarms to the topic."""
    stack = render()

    invoke = stack.props("TimelapseFunctionEventInvokeConfig")
    assert invoke["MaximumRetryAttempts"] == 2
    assert (invoke["DestinationConfig"]["OnFailure"]["Destination"]
            == "<TimelapseDeadLetterQueue.Arn>")
    assert allows(role_statements(stack, TIMELAPSE), "sqs:SendMessage",
                  "<TimelapseDeadLetterQueue.Arn>")
    alarm = stack.props("TimelapseDeadLetterAlarm")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": "<TimelapseDeadLetterQueue.QueueName>"}
    ]
    assert alarm["AlarmActions"] == ["<AlarmTopic>"]


def test_timelapse_videos_expire_after_their_own_retention() -> None:
    """Given the default 30 days, then timelapse/ expires after 30 days (and not captures'
    expiry); given 0 no rule; given 365, 365."""
    assert lifecycle_rules(render())["timelapses-expire"] == {
        "Id": "timelapses-expire", "Status": "Enabled", "Prefix": "timelapse/",
        "ExpirationInDays": "30",
    }
    assert "timelapses-expire" not in lifecycle_rules(render(TimelapseRetentionDays=0))
    rules = lifecycle_rules(render(TimelapseRetentionDays=365, ExpireAfterDays=90))
    assert rules["timelapses-expire"]["ExpirationInDays"] == "365"


def test_range_job_records_expire_instead_of_piling_up() -> None:
    """Given the bucket (whatever the capture and video retention), then jobs/ records expire
    after 30 days, and the versions their progress writes leave behind after a day."""
    for stack in (render(), render(TimelapseRetentionDays=0, ExpireAfterDays=0)):
        rule = lifecycle_rules(stack)["job-records-expire"]

        assert rule == {"Id": "job-records-expire", "Status": "Enabled", "Prefix": "jobs/",
                        "ExpirationInDays": 30,
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}


def test_a_failed_range_job_alarms_to_the_topic_from_the_functions_metric() -> None:
    """Given the stack, then the alarm watches TimelapseJobsFailed as the time-lapse function
    publishes it (its powertools namespace and service) and tells the same topic as the
    dead-letter queue's alarm."""
    stack = render()
    alarm = stack.props("TimelapseJobsFailedAlarm")
    variables = stack.props("TimelapseFunction")["Environment"]["Variables"]
    dead_letters = stack.props("TimelapseDeadLetterAlarm")

    assert (alarm["Namespace"], alarm["MetricName"]) == (
        variables["POWERTOOLS_METRICS_NAMESPACE"], "TimelapseJobsFailed")
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum", 1, "GreaterThanOrEqualToThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == dead_letters["AlarmActions"] == ["<AlarmTopic>"]
    assert alarm["OKActions"] == ["<AlarmTopic>"]


def test_an_interrupted_video_upload_is_cleaned_up_after_a_day() -> None:
    """Given the bucket-wide rule, then abandoned multipart uploads (a build killed by the
    timeout mid-upload) are aborted after one day."""
    rule = lifecycle_rules(render())["bucket-wide"]

    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


# ------------------------------------------------------------------ alerts (issue 17)


def test_alert_check_runs_every_five_minutes_by_default_and_as_often_as_asked() -> None:
    """Given the default, then the check runs at rate(5 minutes); given 10, every 10."""
    schedule = render().props("AlertsFunctionCheck")
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule["Target"]["Arn"] == "<AlertsFunction.Arn>"
    assert schedule["Name"] == "camcloud-alerts-check"

    assert render(AlertCheckMinutes=10).props("AlertsFunctionCheck")["ScheduleExpression"] == (
        "rate(10 minutes)"
    )


def test_alert_function_is_told_where_the_key_the_topic_and_the_queue_are() -> None:
    """Given the stack, then the alert function names the SSM parameter (not the key), the
    stack's topic and the thumbnailer's dead-letter queue."""
    function = render().props("AlertsFunction")

    variables = function["Environment"]["Variables"]
    assert variables["CAMCLOUD_ALERTS_KEY_PARAMETER"] == "/camcloud/camcloud/alerts-key"
    assert variables["CAMCLOUD_ALERTS_TOPIC_ARN"] == "<AlarmTopic>"
    assert variables["CAMCLOUD_ALERTS_DLQ_URL"] == "<ThumbnailerDeadLetterQueue>"
    assert "CAMCLOUD_ALERTS_KEY" not in variables
    assert function["Handler"] == "app.handler"
    assert function["Architectures"] == ["arm64"]


def test_regression_no_secret_value_or_key_parameter_resource_is_in_the_template() -> None:
    """Given the rendered stack, then no SSM parameter resource holds the alerts key: make
    deploy creates it as a SecureString (CloudFormation cannot create one)."""
    stack = render()

    assert not stack.of_type("AWS::SSM::Parameter")
    assert stack.outputs["AlertsKeyParameter"] == "/camcloud/camcloud/alerts-key"


ALERTS_ACCESS = [
    ("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "status/"}, True),
    ("s3:ListBucket", BUCKET_ARN, {}, True),
    ("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "raw/"}, False),
    ("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "devices/"}, False),
    ("s3:GetObject", obj("status/ingest-host-1-123.json"), {}, True),
    ("s3:PutObject", obj("status/ingest-host-1-123.json"), {}, False),
    ("s3:DeleteObject", obj("status/ingest-host-1-123.json"), {}, True),  # a gone writer
    ("s3:GetObject", obj("alerts/state.json"), {}, True),
    ("s3:PutObject", obj("alerts/state.json"), {}, True),
    ("s3:PutObject", obj("alerts/history/garden-cam/8204746599999_silent.json"), {}, True),
    ("s3:GetObject", obj("alerts/targets.json"), {}, True),
    ("s3:GetObject", obj("firmware/current.json"), {}, True),
    ("s3:GetObject", obj("firmware/1.2.0/rollout.json"), {}, True),
    ("s3:GetObject", obj("firmware/1.2.0/firmware.bin"), {}, False),
    ("s3:PutObject", obj("firmware/1.2.0/rollout.json"), WITH_IF_MATCH, False),
    ("s3:GetObject", obj(f"raw/{CAPTURE}.jpg"), {}, False),
    ("s3:GetObject", obj("devices/garden-cam.json"), {}, False),
    ("s3:GetObject", obj("users/alice.json"), {}, False),
    ("s3:GetObject", obj("shares/0123456789abcdef.json"), {}, False),
    ("sqs:GetQueueAttributes", "<ThumbnailerDeadLetterQueue.Arn>", {}, True),
    ("sqs:ReceiveMessage", "<ThumbnailerDeadLetterQueue.Arn>", {}, False),
    ("sqs:GetQueueAttributes", "<TimelapseDeadLetterQueue.Arn>", {}, False),
    ("sns:Publish", "<AlarmTopic>", {}, True),
    ("ssm:GetParameter", KEY_PARAMETER_ARN, {}, True),
    ("ssm:GetParameter",
     f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/camcloud/camcloud/gallery-secret", {}, False),
    ("ssm:GetParameter",
     f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/camcloud/camcloud/tls/ca-key", {}, False),
    ("kms:Decrypt", KMS_KEY, VIA_SSM, True),
    ("kms:Decrypt", KMS_KEY, {}, False),  # never directly
    ("kms:Decrypt", KMS_KEY, {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}, False),
]


@pytest.mark.parametrize(("action", "resource", "context", "allowed"), ALERTS_ACCESS,
                         ids=[f"{a}-{r.rsplit(':', 1)[-1]}-{c}" for a, r, c, _ in ALERTS_ACCESS])
def test_alert_check_reads_summaries_keeps_incidents_and_nothing_else(
        action: str, resource: str, context: dict[str, str], allowed: bool) -> None:
    """Given the alert function's role, then it reads status/, reads and writes alerts/, reads
    the rollout, the DLQ's depth, publishes to the topic and reads its one key parameter."""
    statements = role_statements(render(), ALERTS)

    assert allows(statements, action, resource, context) is allowed


def test_a_failing_alert_check_alarms_and_is_not_retried() -> None:
    """Given the alert function, then a failed pass is not retried (the next check is the
    retry) and three failing periods in a row alarm."""
    stack = render()

    assert stack.props("AlertsFunctionEventInvokeConfig")["MaximumRetryAttempts"] == 0
    alarm = stack.props("AlertsErrorsAlarm")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "<AlertsFunction>"}]
    assert (alarm["MetricName"], alarm["EvaluationPeriods"]) == ("Errors", 3)


def test_share_links_and_exports_expire() -> None:
    """Given the bucket, then shares/ expires after 31 days (a link lives at most 30) and
    exports/ after a few days."""
    rules = lifecycle_rules(render())

    assert (rules["share-links-expire"]["Prefix"], rules["share-links-expire"]["ExpirationInDays"]
            ) == ("shares/", 31)
    assert rules["exports-expire"]["Prefix"] == "exports/"
    assert 1 <= rules["exports-expire"]["ExpirationInDays"] <= 7


# ------------------------------------------------------------------ device management (16)


def test_a_halted_rollout_alarms_from_the_alert_checks_metric() -> None:
    """Given the stack, then the alarm watches the FirmwareRolloutHalted metric the alert
    function publishes (namespace camcloud, service camcloud-alerts) and tells the topic."""
    stack = render()
    alarm = stack.props("FirmwareRolloutHaltedAlarm")
    variables = stack.props("AlertsFunction")["Environment"]["Variables"]

    assert (alarm["Namespace"], alarm["MetricName"]) == (
        variables["POWERTOOLS_METRICS_NAMESPACE"], "FirmwareRolloutHalted")
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["AlarmActions"] == ["<AlarmTopic>"]
    assert alarm["OKActions"] == ["<AlarmTopic>"]


DEVICE_MANAGEMENT_ACCESS = [
    # The ingest: device_state.update_json and firmware_release's rollout updates.
    (INGEST, "s3:GetObject", "devices/garden-cam.json", {}, True),
    (INGEST, "s3:PutObject", "devices/garden-cam.json", WITH_IF_MATCH, True),
    (INGEST, "s3:PutObject", "devices/garden-cam.json", {}, False),
    (INGEST, "s3:GetObject", "firmware/current.json", {}, True),
    (INGEST, "s3:GetObject", "firmware/1.2.0/manifest.json", {}, True),
    (INGEST, "s3:GetObject", "firmware/1.2.0/rollout.json", {}, True),
    (INGEST, "s3:PutObject", "firmware/1.2.0/rollout.json", WITH_IF_MATCH, True),
    (INGEST, "s3:PutObject", "firmware/1.2.0/rollout.json", {}, False),
    (INGEST, "s3:PutObject", "firmware/1.2.0/manifest.json", WITH_IF_MATCH, False),
    (INGEST, "s3:PutObject", "firmware/1.2.0/firmware.bin", WITH_IF_MATCH, False),
    (INGEST, "s3:PutObject", "firmware/current.json", WITH_IF_MATCH, False),
    (INGEST, "s3:PutObject", "status/ingest-host-1-123.json", {}, True),
    (INGEST, "s3:PutObject", "alerts/state.json", {}, False),
    # The gallery's settings page and capture-now: read-modify-write with If-Match only.
    (GALLERY, "s3:PutObject", "devices/garden-cam.json", WITH_IF_MATCH, True),
    (GALLERY, "s3:PutObject", "devices/garden-cam.json", {}, False),
    (GALLERY, "s3:GetObject", "firmware/1.2.0/rollout.json", {}, True),
    (GALLERY, "s3:GetObject", "firmware/1.2.0/firmware.bin", {}, False),
    (GALLERY, "s3:PutObject", "firmware/1.2.0/rollout.json", WITH_IF_MATCH, False),
    # The thumbnailer's status summary.
    (THUMBNAILER, "s3:PutObject", "status/thumbnailer-abc.json", {}, True),
]

SHARING_ACCESS = [
    (GALLERY, "s3:PutObject", "shares/0123456789abcdef0123.json", {}, True),
    (GALLERY, "s3:GetObject", "shares/0123456789abcdef0123.json", {}, True),
    (GALLERY, "s3:GetObject", "shares/0123456789abcdef0123.json", PRESIGNED, False),
    (GALLERY, "s3:PutObject", "exports/garden-cam/r4nd0m/garden-cam.zip", {}, True),
    (GALLERY, "s3:GetObject", "exports/garden-cam/r4nd0m/garden-cam.zip", PRESIGNED, True),
    (GALLERY, "s3:AbortMultipartUpload", "exports/garden-cam/r4nd0m/garden-cam.zip", {}, True),
    # Custom ranges are built by the time-lapse function; the gallery only queues them.
    (GALLERY, "s3:PutObject", "timelapse/garden-cam/range/a_b_default.mp4", {}, False),
    (GALLERY, "s3:PutObject", "jobs/QrBl4b8hU_FGajvX.json", {}, True),
    (GALLERY, "s3:GetObject", "jobs/QrBl4b8hU_FGajvX.json", {}, True),
    (GALLERY, "s3:GetObject", "jobs/QrBl4b8hU_FGajvX.json", PRESIGNED, False),
    (GALLERY, "s3:PutObject", "alerts/targets.json", {}, True),
    (GALLERY, "s3:GetObject", "alerts/open.json", {}, True),
    (GALLERY, "s3:GetObject", "alerts/targets.json", PRESIGNED, False),
    (GALLERY, "s3:PutObject", "alerts/state.json", {}, False),
    (GALLERY, "s3:PutObject", "users/alice.json", {}, False),
    (GALLERY, "s3:PutObject", f"raw/{CAPTURE}.jpg", {}, False),
]


@pytest.mark.parametrize(
    ("role", "action", "key", "context", "allowed"),
    DEVICE_MANAGEMENT_ACCESS + SHARING_ACCESS,
    ids=[f"{r}-{a.split(':')[1]}-{k}-{'allow' if ok else 'deny'}"
         + ("-conditional" if c else "")
         for r, a, k, c, ok in DEVICE_MANAGEMENT_ACCESS + SHARING_ACCESS],
)
def test_device_state_rollouts_shares_and_exports_reach_only_their_keys(
        role: str, action: str, key: str, context: dict[str, str], allowed: bool) -> None:
    """Given each role, then the calls of device_state, firmware_release, shares, export and
    notify it makes are allowed, with If-Match where a document is read-modified-written."""
    statements = role_statements(render(), role)

    assert allows(statements, action, obj(key), context) is allowed


def test_the_gallery_reads_the_alerts_key_through_ssm_only() -> None:
    """Given the gallery's role, then it reads the one key parameter and decrypts only via
    SSM."""
    statements = role_statements(render(), GALLERY)

    assert allows(statements, "ssm:GetParameter", KEY_PARAMETER_ARN)
    assert allows(statements, "kms:Decrypt", KMS_KEY, VIA_SSM)
    assert not allows(statements, "kms:Decrypt", KMS_KEY)
    assert not allows(statements, "ssm:GetParameter",
                      f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/camcloud/camcloud/tls/ca-key")
