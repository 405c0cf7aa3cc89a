// The whole firmware in battery mode (test/firmware/battery/battery_config.h) on the simulated board:
// one wake, from deep sleep until esp_deep_sleep_start(). The clock is simulated; so are WiFi,
// SNTP, the ingest (answers 201) and the 30 s task watchdog.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

using firmware_test::Boot;
using firmware_test::boot;
using firmware_test::captured_at_header;
using firmware_test::kSntpUnix;
using firmware_test::logged;
using firmware_test::Outcome;

namespace {
constexpr int kDeepSleepWake = 8;  // ESP_RST_DEEPSLEEP
// The budget is checked between loop() passes; one camera probe (0.5 s) may straddle it.
constexpr uint32_t kProbeAllowanceMs = 1000;

Boot wake() {
    Boot b;
    b.reset_reason = kDeepSleepWake;
    return b;
}
}  // namespace

TEST_SUITE("battery mode, whole firmware") {
    TEST_CASE("a wake takes the picture at once, uploads it dated from the SNTP reply, then sleeps") {
        // Given a deep-sleep wake with WiFi up after 4.5 s and the SNTP reply 1.5 s later
        Boot b = wake();
        // When the firmware runs
        Outcome out = boot(b);
        INFO(out.serial);
        // Then it went back to deep sleep after the reply, having uploaded the picture once
        CHECK(out.ended == "deep_sleep");
        CHECK(out.uploads == 1);
        CHECK(out.ended_ms >= 6000);
        CHECK(out.ended_ms < 45000);
        CHECK(logged(out, "(wake), dated once SNTP answers"));
        CHECK(logged(out, "time: SNTP answered"));
        CHECK(logged(out, "-> stored"));
        // And the picture is dated from the reply counted back to the capture, early in the wake
        // (before WiFi), not from the RTC
        int64_t captured_at = captured_at_header(out.request);
        CHECK(captured_at >= kSntpUnix - 6);
        CHECK(captured_at <= kSntpUnix - 4);
    }

    TEST_CASE("without an SNTP reply the upload waits 8 s at most, goes undated, then sleeps") {
        Boot b = wake();
        b.sntp_reply_after_wifi_ms = -1;
        Outcome out = boot(b);
        CHECK(out.ended == "deep_sleep");
        CHECK(out.uploads == 1);
        CHECK(out.request.find("X-Captured-At") == std::string::npos);
        CHECK(out.request.find("\r\nX-Capture-Id: ") != std::string::npos);
        // WiFi at 4.5 s + the 8 s SNTP wait: not earlier, and not much later
        CHECK(out.ended_ms >= 12500);
        CHECK(out.ended_ms < 20000);
    }

    TEST_CASE("regression: the retry of an undated upload whose answer was lost stays undated "
              "after SNTP answers, so the ingest sees a duplicate") {
        // Given a wake whose SNTP reply comes 8.5 s after WiFi (after the 8 s wait), and an ingest
        // that stores the first upload but whose answer is lost, then answers 200 duplicate
        Boot b = wake();
        b.sntp_reply_after_wifi_ms = 8500;
        b.ingest = [posts = 0](const std::string& request) mutable -> std::string {
            if (request.rfind("POST /upload ", 0) != 0) {
                return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";  // a check-in
            }
            if (++posts == 1) return "";  // the connection drops before the answer
            std::string body = R"({"id": "x", "duplicate": true})";
            return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body;
        };
        // When the firmware runs
        Outcome out = boot(b);
        INFO(out.serial);
        // Then the first attempt went out undated, SNTP answered before the retry, and the retry
        // carried the same id and still no X-Captured-At
        std::vector<std::string> posts;
        for (const std::string& request : out.requests) {
            if (request.rfind("POST /upload ", 0) == 0) posts.push_back(request);
        }
        REQUIRE(posts.size() == 2);
        CHECK(logged(out, "time: SNTP answered"));
        CHECK(logged(out, "-> duplicate"));
        CHECK(posts[0].find("\r\nX-Captured-At: ") == std::string::npos);
        CHECK(posts[1].find("\r\nX-Captured-At: ") == std::string::npos);
        auto id_of = [](const std::string& request) {
            size_t at = request.find("\r\nX-Capture-Id: ");
            if (at == std::string::npos) return std::string();
            return request.substr(at, request.find("\r\n", at + 2) - at);
        };
        CHECK(!id_of(posts[0]).empty());
        CHECK(id_of(posts[1]) == id_of(posts[0]));
        CHECK(out.ended == "deep_sleep");
    }

    TEST_CASE("the camera left in low-power mode by the last sleep takes the wake's picture") {
        Boot b = wake();
        b.camera_in_low_power = true;
        Outcome out = boot(b);
        CHECK(out.ended == "deep_sleep");
        CHECK(logged(out, "camera: ready"));
        CHECK(out.uploads == 1);
        CHECK(out.request.find("POST /upload HTTP/1.1\r\n") == 0);
    }

    TEST_CASE("no camera: the wake ends asleep within the awake budget, not in a reboot loop") {
        Boot b = wake();
        b.camera = false;
        Outcome out = boot(b);
        CHECK(out.ended == "deep_sleep");
        CHECK(out.ended_ms <= 45000 + kProbeAllowanceMs);
        CHECK(out.posts == 0);
        // One check-in while awake: a config change or capture-now still reaches it this way.
        CHECK(out.checkins == 1);
        CHECK(logged(out, "camera not found"));
    }
}

TEST_SUITE("battery mode, whole firmware: device management") {
    TEST_CASE("a capture-now waiting at the ingest is taken in the same wake, then the remote interval is slept") {
        // Given an ingest whose answers carry a 10-minute interval and a pending capture-now
        auto done = std::make_shared<bool>(false);
        Boot b = wake();
        b.ingest = [done](const std::string& request) {
            if (request.find("\r\nX-Commands-Done: c9=") != std::string::npos) *done = true;
            std::string commands = *done ? "[]" : R"([{"id": "c9", "type": "capture"}])";
            std::string body = R"({"id": "x", "state": {"config": {"version": 1, "interval_s": 600},)"
                               R"( "commands": )" + commands + R"(, "firmware": null}})";
            return "HTTP/1.1 201 CREATED\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body;
        };
        // When the camera wakes
        Outcome out = boot(b);
        INFO(out.serial);
        // Then it uploads the wake's picture, takes and uploads the capture-now reporting it with
        // that capture, and sleeps the interval the owner set
        CHECK(out.ended == "deep_sleep");
        REQUIRE(out.posts == 2);
        size_t id_at = out.requests[1].find("\r\nX-Capture-Id: ") + 16;
        std::string id = out.requests[1].substr(id_at, out.requests[1].find("\r\n", id_at) - id_at);
        CHECK(out.requests[1].find("\r\nX-Commands-Done: c9=" + id + "\r\n") != std::string::npos);
        CHECK(logged(out, "config 1 applied: every 600 s"));
        CHECK(logged(out, "sleeping 600 s"));
        CHECK(out.ended_ms < 45000);
    }
}
