"""Custom time-lapse ranges as jobs (issue 15 item 4 in AWS): the gallery's form on the AWS
configuration invokes the time-lapse Lambda asynchronously with the one range payload, the
handler run in process with that payload keeps ``jobs/{id}.json`` current until the video lands
in the camera's list, and a job whose function failed or stopped is shown failed with the
reason. moto cannot run Lambda code: the invocation is checked through botocore's Stubber on a
real Lambda client, then the handler runs in this process as Lambda would run it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from camcloud.errors import Refusal
from camcloud.settings import Settings
from camcloud.timelapse.jobs import (
    HEARTBEAT_S,
    STALE_AFTER_S,
    START_WITHIN_S,
    JobStore,
    ProgressWriter,
    RangeJob,
    heartbeat,
    job_key,
    queued,
)
from gallery import create_app
from gallery.jobs import LambdaRunner, LocalRunner, default_runner
from tests.conftest import csrf_from
from tests.test_gallery import log_in
from tests.timelapse_support import seed

FUNCTION = "camcloud-timelapse"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = START + timedelta(hours=3)
FORM = {"from": "2026-11-20T09:00", "to": "2026-11-20T10:00", "fps": "10", "stamp": "on",
        "deflicker": "on"}


class Clock:
    """A settable clock for the gallery (Unix seconds) and the Lambda (datetime)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def seconds(self) -> float:
        """The gallery's clock."""
        return self.now.timestamp()

    def moment(self) -> datetime:
        """The job service's clock."""
        return self.now


class Invocations:
    """A real boto3 Lambda client behind botocore's Stubber, recording each Invoke's
    parameters (botocore then validates them against the Lambda API)."""

    def __init__(self) -> None:
        self.client = boto3.client("lambda", region_name="us-east-1")
        self.calls: list[dict[str, Any]] = []
        self.client.meta.events.register("before-parameter-build.lambda.Invoke", self._record)
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(params)

    def accept(self) -> None:
        """The next Invoke is accepted as Lambda accepts an asynchronous one (202)."""
        self.stubber.add_response("invoke", {"StatusCode": 202})

    def refuse(self, code: str) -> None:
        """The next Invoke fails with ``code``."""
        self.stubber.add_client_error("invoke", service_error_code=code, http_status_code=429)

    def payloads(self) -> list[dict[str, Any]]:
        """The events sent, decoded."""
        return [json.loads(call["Payload"]) for call in self.calls]


@pytest.fixture
def clock() -> Clock:
    """The clock shared by the gallery and the in-process Lambda."""
    return Clock(NOW)


@pytest.fixture
def lam() -> Invocations:
    """The stubbed Lambda client."""
    return Invocations()


@pytest.fixture
def aws_settings(settings: Settings) -> Settings:
    """Settings as the template gives the gallery host: the time-lapse function named."""
    return Settings.from_env({**settings.as_env(), "CAMCLOUD_TIMELAPSE_FUNCTION": FUNCTION})


@pytest.fixture
def app(aws_settings: Settings, s3: Any, clock: Clock, lam: Invocations, gallery_user: Any) -> Any:
    """The gallery on the AWS configuration, its Lambda client stubbed."""
    jobs = default_runner(aws_settings, lambda: s3, clock.seconds, lambda_client=lambda: lam.client)
    application = create_app(aws_settings, s3, clock=clock.seconds, jobs=jobs)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app: Any, gallery_user: Any) -> Any:
    """A logged-in test client."""
    test_client = app.test_client()
    assert log_in(test_client, *gallery_user).status_code == 302
    return test_client


@pytest.fixture
def handler() -> Any:
    """The time-lapse Lambda's module, its metrics emptied after each test."""
    from lambdas.timelapse import app as module

    yield module
    module.metrics.clear_metrics()


def seed_hour(s3: Any, bucket: str) -> None:
    """Twelve captures of cam-1, five minutes apart from START."""
    for i in range(12):
        seed(s3, bucket, "cam-1", START + timedelta(minutes=5 * i), f"f{i}", level=90 + 5 * i)


def post_range(client: Any, form: dict[str, str] = FORM) -> Any:
    """Post the camera page's custom-range form."""
    page = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    return client.post("/camera/cam-1/timelapse", data={"csrf_token": csrf_from(page), **form})


def run_lambda(handler: Any, payload: dict[str, Any], s3: Any, settings: Settings,
               clock: Callable[[], datetime]) -> dict[str, Any]:
    """Run the handler with ``payload`` in process, as Lambda would run the invocation."""
    answer: dict[str, Any] = handler.handle(
        payload, client=s3, settings=settings, clock=clock, invoke=lambda job: None,
        time_budget_s=840.0)
    return answer


def test_the_range_form_on_aws_invokes_the_function_and_the_video_lands_in_the_list(
        client, s3, settings, lam, clock, handler):
    # Given captures, and the gallery configured with the time-lapse function
    seed_hour(s3, settings.bucket)
    lam.accept()
    # When the range form is posted
    response = post_range(client)
    # Then the function is invoked asynchronously, once, with the range payload and the job id
    assert response.status_code == 303
    job_id = response.headers["Location"].split("job=")[1]
    lam.stubber.assert_no_pending_responses()
    [call] = lam.calls
    assert call["FunctionName"] == FUNCTION and call["InvocationType"] == "Event"
    [payload] = lam.payloads()
    assert payload == {"action": "range", "job": job_id, "device": "cam-1",
                       "start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:00:00Z",
                       "options": {"fps": 10, "keep_dark": False, "deflicker": True,
                                   "stamp": True}}
    # And the page's poll shows the job queued
    assert client.get(f"/api/jobs/{job_id}").get_json()["state"] == "queued"
    # When Lambda runs the handler with that payload
    clock.now += timedelta(seconds=3)
    answer = run_lambda(handler, payload, s3, settings, clock.moment)
    # Then the job is done with every frame, and the range is in the camera's list
    assert answer["status"] == 201 and answer["job"] == job_id
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "done" and job["percent"] == 100 and job["done"] == 12
    assert job["key"] == answer["key"] and "X-Amz-Signature=" in job["url"]
    page = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    assert f"/{answer['key']}?" in page and "2026-11-20 09:00 – 2026-11-20 10:00" in page


def test_the_function_writes_progress_while_it_builds(s3, settings, clock):
    # Given a queued job of twelve frames and a clock that moves a second per frame
    seed_hour(s3, settings.bucket)
    job = RangeJob("job-progress-1", "cam-1", START, START + timedelta(hours=1), {"fps": 10})
    store = JobStore(s3, settings.bucket)
    store.put(queued(job, "alice", clock.now))
    seen: list[tuple[str, int, int]] = []
    put = store.put

    def watching_put(record: Any) -> None:
        seen.append((record.state, record.done, record.total))
        put(record)

    store.put = watching_put  # type: ignore[method-assign]
    writer = ProgressWriter(store, store.get("job-progress-1"), clock.moment)  # type: ignore[arg-type]
    writer.finish(state="running")
    # When the builder reports each frame, one second apart
    for done in range(1, 13):
        clock.now += timedelta(seconds=1)
        writer.progress(done, 12)
    # Then the record was written every two seconds and at the last frame, not every frame
    assert seen == [("running", 0, 0)] + [("running", n, 12) for n in (2, 4, 6, 8, 10, 12)]
    assert store.get("job-progress-1").done == 12  # type: ignore[union-attr]


def test_a_heartbeat_rewrites_the_record_while_the_build_is_quiet(s3, settings):
    # Given a running job's writer
    job = RangeJob("job-heartbeat", "cam-1", START, START + timedelta(hours=1))
    store = JobStore(s3, settings.bucket)
    beats = threading.Event()
    moments = iter([NOW + timedelta(seconds=s) for s in range(1, 1000)])
    writer = ProgressWriter(store, queued(job, "alice", NOW), lambda: next(moments))
    beat = writer.beat

    def counted() -> None:
        beat()
        beats.set()

    writer.beat = counted  # type: ignore[method-assign]
    # When the block runs longer than a heartbeat
    with heartbeat(writer, 0.01):
        assert beats.wait(10)
    # Then the record was rewritten with a later time, though no frame was reported
    record = store.get("job-heartbeat")
    assert record is not None and record.updated_at > NOW


def test_the_handler_accepts_exactly_the_payload_the_runner_sends():
    # Given a range job / When it becomes the payload and back / Then nothing changes
    job = RangeJob("abcdefgh12345678", "cam-1", START, START + timedelta(hours=1),
                   {"fps": 24, "stamp": True})
    assert RangeJob.from_payload(json.loads(json.dumps(job.payload()))) == job


def test_a_job_whose_function_stopped_without_a_word_is_shown_failed_naming_the_limit(
        client, s3, settings, lam, clock, handler):
    # Given a job the function started at t0 and then stopped writing (timed out, killed)
    seed_hour(s3, settings.bucket)
    lam.accept()
    job_id = post_range(client).headers["Location"].split("job=")[1]
    store = JobStore(s3, settings.bucket)
    record = store.get(job_id)
    assert record is not None
    started = clock.now + timedelta(seconds=2)
    store.put(replace(record, state="running", done=40, total=600, updated_at=started))
    # When the page polls within the heartbeat allowance / Then it is still running
    clock.now = started + timedelta(seconds=STALE_AFTER_S - 1)
    assert client.get(f"/api/jobs/{job_id}").get_json()["state"] == "running"
    # When it polls after that / Then the job failed, and the reason names the limit
    clock.now = started + timedelta(seconds=STALE_AFTER_S + 1)
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "failed" and job["finished"]
    assert "15-minute AWS Lambda limit" in job["error"]
    # When Lambda retries the invocation that timed out / Then it does not build it again
    answer = run_lambda(handler, lam.payloads()[0], s3, settings, clock.moment)
    assert answer["status"] == 409 and answer["error"] == "job_not_queued"
    assert store.get(job_id).state == "failed"  # type: ignore[union-attr]
    assert "Contents" not in s3.list_objects_v2(Bucket=settings.bucket, Prefix="timelapse/")


def test_two_copies_of_one_invocation_at_once_build_once(
        client, s3, settings, lam, clock, handler):
    # Given a submitted range (the gallery wrote its record queued)
    seed_hour(s3, settings.bucket)
    lam.accept()
    job_id = post_range(client).headers["Location"].split("job=")[1]
    [payload] = lam.payloads()
    video_puts: list[str] = []
    answers: list[dict[str, Any]] = []
    arrived = threading.Event()

    def second_copy_arrives(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("timelapse/"):
            video_puts.append(params["Key"])
        elif params["Key"] == job_key(job_id) and not arrived.is_set():
            # The first copy has read the record queued and is about to mark it running:
            # Lambda delivers the same event again, and that copy runs in between.
            arrived.set()
            answers.append(run_lambda(handler, payload, s3, settings, clock.moment))

    s3.meta.events.register("before-parameter-build.s3.PutObject", second_copy_arrives)
    try:
        # When both copies run the same payload, the second between the first's read and claim
        first = run_lambda(handler, payload, s3, settings, clock.moment)
    finally:
        s3.meta.events.unregister("before-parameter-build.s3.PutObject", second_copy_arrives)
    # Then one built the range and the other answered 409 and built nothing
    [second] = answers
    assert second["status"] == 201 and second["job"] == job_id
    assert first["status"] == 409 and first["error"] == "job_not_queued"
    assert "running" in first["message"] or "done" in first["message"]
    assert sorted(video_puts) == sorted([second["key"], second["sidecar"]])
    # And the job is done with the one build's result
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "done" and job["key"] == second["key"]


def test_a_job_that_never_started_is_shown_failed_and_a_late_invocation_does_not_run_it(
        client, s3, settings, lam, clock, handler):
    # Given a submitted range whose invocation has not started
    seed_hour(s3, settings.bucket)
    lam.accept()
    job_id = post_range(client).headers["Location"].split("job=")[1]
    # When the page polls past the start allowance
    clock.now += timedelta(seconds=START_WITHIN_S + 1)
    job = client.get(f"/api/jobs/{job_id}").get_json()
    # Then the job failed with the reason
    assert job["state"] == "failed" and "did not start within 10 minutes" in job["error"]
    # And the invocation, arriving late, leaves it so
    answer = run_lambda(handler, lam.payloads()[0], s3, settings, clock.moment)
    assert answer["status"] == 409
    assert "Contents" not in s3.list_objects_v2(Bucket=settings.bucket, Prefix="timelapse/")


def test_a_build_that_fails_marks_the_job_failed_with_the_reason_and_is_not_retried(
        client, s3, settings, lam, clock, handler):
    # Given a submitted range, and S3 refusing the video's upload
    seed_hour(s3, settings.bucket)
    lam.accept()
    job_id = post_range(client).headers["Location"].split("job=")[1]

    def refuse_videos(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("timelapse/"):
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please slow down"}},
                              "PutObject")

    s3.meta.events.register("before-parameter-build.s3.PutObject", refuse_videos)
    try:
        # When the function runs it
        answer = run_lambda(handler, lam.payloads()[0], s3, settings, clock.moment)
    finally:
        s3.meta.events.unregister("before-parameter-build.s3.PutObject", refuse_videos)
    # Then it answers (a raise would be retried) and the job failed with S3's reason
    assert answer["status"] == 500 and answer["error"] == "job_failed"
    # And it counts the failure in the metric template.yaml's TimelapseJobsFailedAlarm watches
    emitted = handler.metrics.serialize_metric_set()
    [metric_set] = emitted["_aws"]["CloudWatchMetrics"]
    assert metric_set["Namespace"] == "camcloud" and emitted["service"] == "camcloud-timelapse"
    assert metric_set["Dimensions"] == [["service"]]
    assert {"Name": "TimelapseJobsFailed", "Unit": "Count"} in metric_set["Metrics"]
    assert emitted["TimelapseJobsFailed"] == [1.0]
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "failed" and "SlowDown" in job["error"]
    # And a redelivery does not build it again
    assert run_lambda(handler, lam.payloads()[0], s3, settings, clock.moment)["status"] == 409


def test_a_range_without_usable_frames_fails_in_the_function_with_the_reason(
        client, s3, settings, lam, clock, handler, registry):
    # Given a registered camera with no capture in the range
    registry.add("cam-1")
    lam.accept()
    job_id = post_range(client).headers["Location"].split("job=")[1]
    # When the function runs the range
    answer = run_lambda(handler, lam.payloads()[0], s3, settings, clock.moment)
    # Then it answers 422 and the page shows why
    assert answer["status"] == 422
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "failed" and "no usable frames" in job["error"]


def test_a_range_over_the_lambda_estimate_is_refused_before_invoking(
        s3, settings, aws_settings, lam, clock, gallery_user):
    # Given a runner whose invocation may spend 14 s (the estimate: 10 s + 1 s per 100
    # records + 1 s per 15 frames: twelve captures need ~10.9 s, 60 need ~14.6 s)
    for i in range(60):
        seed(s3, settings.bucket, "cam-1", START + timedelta(minutes=i), f"g{i}", level=150)
    runner = default_runner(aws_settings, lambda: s3, clock.seconds,
                            lambda_client=lambda: lam.client)
    ranges = runner.runners["timelapse"]
    assert isinstance(ranges, LambdaRunner)
    ranges.budget_s = 14.0
    app = create_app(aws_settings, s3, clock=clock.seconds, jobs=runner)
    app.config.update(TESTING=True)
    client = app.test_client()
    log_in(client, *gallery_user)
    # When the range form asks for those captures
    response = post_range(client)
    # Then 413 names the Lambda limit and the way out, nothing was invoked or recorded
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert "15 minutes" in text and "camcloud timelapse build" in text
    assert lam.calls == []
    assert "Contents" not in s3.list_objects_v2(Bucket=settings.bucket, Prefix="jobs/")


def test_a_refused_invocation_is_a_503_and_the_job_is_not_left_queued(
        client, s3, settings, lam):
    # Given Lambda refusing the invocation (throttled)
    seed_hour(s3, settings.bucket)
    lam.refuse("TooManyRequestsException")
    # When the range form is posted / Then the user is told to try again
    response = post_range(client)
    assert response.status_code == 503 and "try again soon" in response.get_data(as_text=True)
    # And the only job record says failed
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket,
                                                  Prefix="jobs/")["Contents"]]
    [record] = [JobStore(s3, settings.bucket).get(k[5:-5]) for k in keys]
    assert record is not None and record.state == "failed"


def test_retry_after_of_a_throttled_range_reaches_the_browser(client, s3, settings, lam):
    # Given Lambda refusing the invocations (throttled), and captures to build
    seed_hour(s3, settings.bucket)
    lam.refuse("TooManyRequestsException")
    lam.refuse("TooManyRequestsException")
    # When the range form is posted from the page / Then the 503 says when to try again
    page = post_range(client)
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
    assert "try again soon" in page.get_data(as_text=True)
    # And so does the JSON answer the page's script asks for
    form = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    answer = client.post("/camera/cam-1/timelapse", data={"csrf_token": csrf_from(form), **FORM},
                         headers={"Accept": "application/json"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert answer.get_json()["error"] == "jobs_unavailable"


def test_retry_after_of_a_full_local_runner_reaches_the_browser(
        s3, settings, clock, gallery_user):
    # Given the local configuration with one worker, no waiting room, and its one job running
    seed_hour(s3, settings.bucket)
    release = threading.Event()

    def jobs_client() -> Any:
        if threading.current_thread().name.startswith("gallery-range"):
            release.wait(10)  # the worker's build holds until the test lets it go
        return s3

    runner = default_runner(settings, jobs_client, clock.seconds)
    ranges = runner.runners["timelapse"]
    assert isinstance(ranges, LocalRunner)
    runner.runners["timelapse"] = LocalRunner(ranges.context, workers=1, max_pending=0)
    app = create_app(settings, s3, clock=clock.seconds, jobs=runner)
    app.config.update(TESTING=True)
    browser = app.test_client()
    log_in(browser, *gallery_user)
    try:
        assert post_range(browser).status_code == 303
        # When another range is posted / Then the 429 says when to try again
        response = post_range(browser)
        assert response.status_code == 429 and response.headers["Retry-After"] == "30"
        assert "try again soon" in response.get_data(as_text=True)
    finally:
        release.set()
        runner.close()


def test_without_a_function_the_range_runs_in_process_through_the_same_job_record(
        s3, settings, clock):
    # Given the local configuration (no CAMCLOUD_TIMELAPSE_FUNCTION)
    seed_hour(s3, settings.bucket)
    runner = default_runner(settings, lambda: s3, clock.seconds, inline=True)
    assert isinstance(runner.runners["timelapse"], LocalRunner)
    # When a range is submitted
    job_id = runner.submit("timelapse", {"device": "cam-1", "start": START.isoformat(),
                                         "end": (START + timedelta(hours=1)).isoformat(),
                                         "options": {"fps": 10}, "owner": "alice"})
    # Then jobs/{id}.json, written by the Lambda's job code, says done, and status reads it
    document = json.loads(s3.get_object(Bucket=settings.bucket,
                                        Key=job_key(job_id))["Body"].read())
    assert document["state"] == "done" and document["owner"] == "alice"
    status = runner.status(job_id)
    assert status is not None and status.state == "done" and status.percent == 100
    assert status.result is not None and status.result["key"].startswith("timelapse/cam-1/")


def test_the_local_runner_refuses_ranges_beyond_its_bound(s3, settings, clock):
    # Given a local runner with one worker and no waiting room, its one job still running
    release = threading.Event()

    def client() -> Any:
        if threading.current_thread().name.startswith("gallery-range"):
            release.wait(10)  # the worker's build holds until the test lets it go
        return s3

    runner = default_runner(settings, client, clock.seconds)
    ranges = runner.runners["timelapse"]
    assert isinstance(ranges, LocalRunner)
    runner.runners["timelapse"] = LocalRunner(ranges.context, workers=1, max_pending=0)
    params = {"device": "cam-1", "start": START.isoformat(),
              "end": (START + timedelta(hours=1)).isoformat(), "owner": "alice"}
    try:
        runner.submit("timelapse", params)
        # When another range is submitted / Then it is refused with 429, not queued unbounded
        with pytest.raises(Refusal) as refused:
            runner.submit("timelapse", params)
        assert refused.value.status == 429
    finally:
        release.set()
        runner.close()


def test_the_gallery_picks_its_range_runner_from_the_environment(settings, s3):
    # Given the host's environment with and without CAMCLOUD_TIMELAPSE_FUNCTION
    on_aws = Settings.from_env({**settings.as_env(), "CAMCLOUD_TIMELAPSE_FUNCTION": FUNCTION})
    # When the gallery is built from each / Then ranges go to that function, or stay here
    ranges = create_app(on_aws, s3).extensions["camcloud"].jobs.runners["timelapse"]
    assert isinstance(ranges, LambdaRunner) and ranges.function_name == FUNCTION
    local = create_app(settings, s3).extensions["camcloud"].jobs.runners["timelapse"]
    assert isinstance(local, LocalRunner)


def test_a_job_id_that_could_name_another_key_is_unknown(client):
    # Given a logged-in user / When a job id with a path in it is polled / Then 404
    assert client.get("/api/jobs/..%2Fusers%2Falice").status_code == 404
    assert client.get("/api/jobs/short").status_code == 404


def test_the_heartbeat_is_well_inside_the_stale_allowance():
    # Given the constants / Then several heartbeats fit before a job is called stopped
    assert STALE_AFTER_S >= 3 * HEARTBEAT_S
