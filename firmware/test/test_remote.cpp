// Remote settings and capture-now on the camera: validation with the server's ranges, the last
// good config kept in flash, the report-back headers, check-ins on an injected clock.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "camcloud/remote.h"
#include "camcloud/upload.h"
#include "fakes.h"

using namespace camcloud;

namespace {

class MemoryStore : public ConfigStore {
public:
    bool load(DeviceConfig& config) override {
        if (!has) return false;
        config = stored;
        return true;
    }
    bool save(const DeviceConfig& config) override {
        stored = config;
        has = true;
        ++saves;
        return true;
    }
    DeviceConfig stored;
    bool has = false;
    int saves = 0;
};

DeviceState state_from(const std::string& json) {
    ResponseBody body;
    DeviceState state;
    StateJsonReader reader(body, &state);
    reader.feed(reinterpret_cast<const uint8_t*>(json.data()), json.size());
    return state;
}

std::string config_json(int version, const std::string& fields) {
    return R"({"state": {"config": {"version": )" + std::to_string(version) +
           (fields.empty() ? "" : ", " + fields) + R"(}, "commands": [], "firmware": null}})";
}

// A check-in answer: 200 with the state JSON.
std::string answer(const std::string& json) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(json.size()) + "\r\n\r\n" + json;
}

}  // namespace

TEST_CASE("a new config version is validated, applied, stored and reported") {
    MemoryStore store;
    RemoteControl remote(store, DeviceConfig{});
    remote.begin();
    ConfigApply r = remote.on_state(state_from(config_json(
        3, R"("interval_s": 120, "image_mode": "vga", "jpeg_quality": "low", "pir": true,)"
           R"( "battery_mode": true, "active_hours": "22:00-06:00", "checkin_s": 30)")));
    CHECK(r.applied);
    CHECK(r.changed);
    CHECK(r.refused == 0);
    const DeviceConfig& c = remote.config();
    CHECK(c.version == 3);
    CHECK(c.interval_s == 120);
    CHECK(c.image_mode == 0x02);  // CAM_IMAGE_MODE_VGA
    CHECK(c.jpeg_quality == 2);   // LOW_QUALITY
    CHECK(c.pir);
    CHECK(c.battery_mode);
    CHECK(c.has_active_hours);
    CHECK(c.checkin_s == 30);
    CHECK(store.saves == 1);
    CHECK(store.stored == c);
    Report report = remote.report();
    CHECK(report.config_version == 3);
}

TEST_CASE("regression: a config that would brick the camera keeps the last good values") {
    MemoryStore store;
    DeviceConfig compiled;
    compiled.interval_s = 300;
    compiled.checkin_s = 60;
    RemoteControl remote(store, compiled);
    ConfigApply r = remote.on_state(state_from(config_json(
        5, R"("interval_s": 0, "checkin_s": 0, "image_mode": "wqxga2", "jpeg_quality": 1,)"
           R"( "active_hours": "25:00-06:00", "pir": "yes")")));
    CHECK(r.applied);
    CHECK_FALSE(r.changed);
    CHECK(r.refused == (kFieldInterval | kFieldCheckin | kFieldImageMode | kFieldActiveHours));
    CHECK(remote.config().interval_s == 300);
    CHECK(remote.config().checkin_s == 60);
    CHECK(remote.config().image_mode == 0x08);
    CHECK_FALSE(remote.config().pir);
    char names[80];
    refused_field_names(r.refused, names, sizeof names);
    CHECK(std::string(names) == "interval_s,image_mode,active_hours,checkin_s");
    // The range limits themselves are accepted.
    r = remote.on_state(state_from(config_json(6, R"("interval_s": 5, "checkin_s": 86400)")));
    CHECK(r.refused == 0);
    CHECK(remote.config().interval_s == 5);
    r = remote.on_state(state_from(config_json(7, R"("interval_s": 86401, "checkin_s": 9)")));
    CHECK(r.refused == (kFieldInterval | kFieldCheckin));
    CHECK(remote.config().interval_s == 5);
}

TEST_CASE("version 0, the applied version and an incomplete state change nothing") {
    MemoryStore store;
    RemoteControl remote(store, DeviceConfig{});
    CHECK_FALSE(remote.on_state(state_from(config_json(0, R"("interval_s": 60)"))).applied);
    CHECK(remote.config().interval_s == 300);
    CHECK(remote.report().config_version == -1);  // nothing applied: no header
    CHECK(remote.on_state(state_from(config_json(2, R"("interval_s": 60)"))).applied);
    CHECK_FALSE(remote.on_state(state_from(config_json(2, R"("interval_s": 90)"))).applied);
    CHECK(remote.config().interval_s == 60);
    std::string cut = config_json(3, R"("interval_s": 90)");
    CHECK_FALSE(remote.on_state(state_from(cut.substr(0, cut.size() - 2))).applied);
    // A device added again starts at version 1: different, so applied (not only when greater).
    CHECK(remote.on_state(state_from(config_json(1, R"("interval_s": 600)"))).applied);
    CHECK(remote.config().interval_s == 600);
    CHECK(store.saves == 2);
}

TEST_CASE("the last good config survives a reboot; a torn store keeps the compiled one") {
    MemoryStore store;
    {
        RemoteControl before(store, DeviceConfig{});
        before.on_state(state_from(config_json(9, R"("image_mode": "hd")")));
    }
    RemoteControl after(store, DeviceConfig{});
    after.begin();
    CHECK(after.config().version == 9);
    CHECK(after.config().image_mode == 0x04);
    MemoryStore empty;
    DeviceConfig compiled;
    compiled.interval_s = 42;
    RemoteControl fresh(empty, compiled);
    fresh.begin();
    CHECK(fresh.config().interval_s == 42);
}

TEST_CASE("active hours: inside, outside, across midnight, and all day without a clock") {
    DeviceConfig c;
    CHECK(in_active_hours(c, 3 * 60));  // none set: all day
    REQUIRE(parse_active_hours("06:30-20:00", c.active_start_min, c.active_end_min));
    c.has_active_hours = true;
    CHECK_FALSE(in_active_hours(c, 6 * 60 + 29));
    CHECK(in_active_hours(c, 6 * 60 + 30));   // the start minute is inside
    CHECK_FALSE(in_active_hours(c, 20 * 60)); // the end minute is not
    CHECK(in_active_hours(c, -1));            // no SNTP yet: capture rather than go blind
    REQUIRE(parse_active_hours("22:00-06:00", c.active_start_min, c.active_end_min));
    CHECK(in_active_hours(c, 23 * 60));
    CHECK(in_active_hours(c, 5 * 60 + 59));
    CHECK_FALSE(in_active_hours(c, 12 * 60));
    uint16_t s, e;
    CHECK_FALSE(parse_active_hours("06:00-06:00", s, e));
    CHECK_FALSE(parse_active_hours("6:00-07:00", s, e));
    CHECK_FALSE(parse_active_hours("06:00-24:00", s, e));
}

TEST_CASE("capture now: a command is taken once, reported with its capture, then forgotten") {
    MemoryStore store;
    RemoteControl remote(store, DeviceConfig{});
    std::string json = R"({"state": {"config": {"version": 0}, "commands": [{"id": "3f9a0c11d2", "type": "capture"}]}})";
    remote.on_state(state_from(json));
    char id[kCommandIdCapacity];
    REQUIRE(remote.pending_command(id));
    CHECK(std::string(id) == "3f9a0c11d2");
    remote.command_done(id, "A4CF12-17-203");
    CHECK_FALSE(remote.pending_command(id));
    // The capture's own answer may still list it: no second capture.
    remote.on_state(state_from(json));
    CHECK_FALSE(remote.pending_command(id));
    Report report = remote.report();
    REQUIRE(report.commands_done != nullptr);
    CHECK(std::string(report.commands_done) == "3f9a0c11d2=A4CF12-17-203");
    remote.report_delivered();
    CHECK(remote.report().commands_done == nullptr);
    remote.on_state(state_from(json));
    CHECK_FALSE(remote.pending_command(id));
}

TEST_CASE("a report that got no answer goes out again; the OTA result once delivered") {
    MemoryStore store;
    RemoteControl remote(store, DeviceConfig{});
    remote.command_done("a1", "cam-1-5");
    remote.set_ota_result("failed:sha256");
    Report first = remote.report();
    CHECK(std::string(first.ota_result) == "failed:sha256");
    // No report_delivered(): the request failed.
    Report second = remote.report();
    CHECK(std::string(second.commands_done) == "a1=cam-1-5");
    CHECK(std::string(second.ota_result) == "failed:sha256");
    remote.command_done("b2", nullptr);  // after the report was built: goes next time
    remote.report_delivered();
    Report third = remote.report();
    CHECK(std::string(third.commands_done) == "b2");
    CHECK(third.ota_result == nullptr);
}

TEST_CASE("check-in requests: GET /device/state with the report-back headers") {
    char path[64];
    REQUIRE(state_path_for("/upload", path, sizeof path));
    CHECK(std::string(path) == "/device/state");
    REQUIRE(state_path_for("/cam/upload", path, sizeof path));
    CHECK(std::string(path) == "/cam/device/state");
    REQUIRE(state_path_for("/ingest", path, sizeof path));
    CHECK(std::string(path) == "/device/state");
    UploadUrl url;
    REQUIRE(parse_upload_url("http://192.168.1.10:8080/upload", url));
    Telemetry telemetry;
    telemetry.firmware = "1.0.0";
    Report report;
    report.config_version = 3;
    report.commands_done = "3f9a0c11d2=A4CF12-17-203";
    report.ota_result = "ok";
    StateRequest request;
    request.url = &url;
    request.device_key = "secret";
    request.telemetry = &telemetry;
    request.report = &report;
    char head[1024];
    size_t n = build_state_request_head(request, head, sizeof head);
    REQUIRE(n > 0);
    std::string text(head, n);
    CHECK(text.rfind("GET /device/state HTTP/1.1\r\nHost: 192.168.1.10:8080\r\n", 0) == 0);
    CHECK(text.find("Authorization: Bearer secret\r\n") != std::string::npos);
    CHECK(text.find("X-Firmware: 1.0.0\r\n") != std::string::npos);
    CHECK(text.find("X-Config-Version: 3\r\n") != std::string::npos);
    CHECK(text.find("X-Commands-Done: 3f9a0c11d2=A4CF12-17-203\r\n") != std::string::npos);
    CHECK(text.find("X-Ota-Result: ok\r\n") != std::string::npos);
    CHECK(text.find("Content-Length") == std::string::npos);
    report.ota_result = "failed:x\r\nX-Evil: 1";
    CHECK(build_state_request_head(request, head, sizeof head) == 0);
}

TEST_CASE("regression: a report too long for the request head never costs the frame") {
    camcloud_test::ScriptedConnection connection;
    connection.response = "HTTP/1.1 201 CREATED\r\nContent-Length: 2\r\n\r\n{}";
    std::vector<uint8_t> frame = camcloud_test::make_frame(500);
    camcloud_test::FakeCamera camera(frame);
    UploadUrl url;
    REQUIRE(parse_upload_url("http://192.168.1.10:8080/upload", url));
    std::string long_reason = "failed:" + std::string(800, 'x');
    Report report;
    report.ota_result = long_reason.c_str();
    UploadRequest request;
    request.url = &url;
    request.device_key = "key";
    request.capture_id = "a0b7650c1dfe-1-0";
    request.content_length = static_cast<uint32_t>(frame.size());
    request.report = &report;
    Uploader uploader;
    UploadResult result = uploader.upload(connection, camera, request);
    CHECK(result.status == 201);
    CHECK_FALSE(result.report_sent);  // so it is not marked delivered
    CHECK(connection.head().find("X-Ota-Result") == std::string::npos);
    // The camera's own report always fits: four done commands with capture ids and a reason.
    MemoryStore store;
    RemoteControl remote(store, DeviceConfig{});
    remote.on_state(state_from(config_json(2147483647, "")));
    for (const char* id : {"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc", "dddddddddddddddd"}) {
        remote.command_done(id, "a0b7650c1dfe-4294967295-4294967295");
    }
    remote.set_ota_result(long_reason.c_str());
    Report full = remote.report();
    Telemetry telemetry;
    telemetry.firmware = "1.2.0-rc.1+build.123456789012345";
    telemetry.has_rssi = true;
    telemetry.free_heap = 4294967295;
    telemetry.max_alloc_heap = 4294967295;
    telemetry.boot_count = 4294967295;
    telemetry.reset_reason = "task_watchdog";
    telemetry.uptime_s = 4294967295;
    telemetry.frames_lost = 4294967295;
    request.telemetry = &telemetry;
    request.report = &full;
    request.device_id = "camera-with-a-rather-long-device-id-0001";
    request.capture_id = "a0b7650c1dfe-4294967295-4294967295";
    request.captured_at = 4102444800;
    request.device_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";
    char head[kIoBufferSize];
    CHECK(build_request_head(request, head, sizeof head) > 0);
}

TEST_CASE("a config change reaches an awake camera within one check-in period (injected clock)") {
    MemoryStore store;
    DeviceConfig compiled;
    compiled.checkin_s = 60;
    RemoteControl remote(store, compiled);
    UploadUrl url;
    REQUIRE(parse_upload_url("http://192.168.1.10:8080/upload", url));
    StateRequest request;
    request.url = &url;
    request.device_key = "secret";
    Uploader uploader;
    DeviceState state;
    std::string server_config = config_json(1, R"("interval_s": 300)");
    const uint64_t change_at_ms = 1000u * 1000u + 12345u;  // between two check-ins
    uint64_t applied_at_ms = 0;
    int checkins = 0;
    for (uint64_t now_ms = 0; now_ms < 2000u * 1000u && applied_at_ms == 0; now_ms += 250) {
        if (now_ms >= change_at_ms) server_config = config_json(2, R"("interval_s": 30)");
        if (!remote.checkin_due(now_ms)) continue;
        camcloud_test::ScriptedConnection connection;
        connection.response = answer(server_config);
        Report report = remote.report();
        request.report = &report;
        UploadResult result = uploader.check_in(connection, request, -1, &state);
        REQUIRE(result.status == 200);
        CHECK(connection.sent.rfind("GET /device/state ", 0) == 0);
        ++checkins;
        remote.answered(now_ms);
        remote.report_delivered();
        if (remote.on_state(state).applied && remote.config().version == 2) applied_at_ms = now_ms;
    }
    REQUIRE(applied_at_ms > 0);
    CHECK(applied_at_ms - change_at_ms <= 60u * 1000u);
    CHECK(remote.config().interval_s == 30);
    CHECK(checkins == 1 + static_cast<int>(applied_at_ms / 60000u));  // one every 60 s, no more
}
