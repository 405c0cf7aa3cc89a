// The whole firmware (mains config) against a scripted ingest whose answers carry a state:
// remote settings reach the camera and the sensor, capture-now is reported with its capture, a
// signed update is streamed into Update and switched to only when verified, and a new image
// confirms itself after its first stored upload.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

using firmware_test::Boot;
using firmware_test::boot;
using firmware_test::logged;
using firmware_test::Outcome;

namespace {

// docs/device-management.md "Test vector": signed for mains_config.h's CAMCLOUD_OTA_PUBLIC_KEY.
std::string vector_image() {
    std::string image = "\xE9";
    for (int i = 0; i < 3; ++i) image += "camcloud test image\n";
    return image;
}
const char kVectorOffer[] =
    R"({"version": "1.2.0", "url": "http://fw.local/firmware/1.2.0/firmware.bin?X-Amz-Signature=abc",)"
    R"( "size": 61, "sha256": "e6719e27b47422816e72acc3c385071786372ccad6a4b0be6e61666a4f64ece5",)"
    R"( "signature": "961853a1678f4739073ba81a8437158c3d208b242fd07737d3c4d1b212afb5e1)"
    R"(f435b840e497e72a7bdcb042c8e03a260442a822ed06feee19b432b371a04c01", "force": false})";

std::string header(const std::string& request, const std::string& name) {
    std::string key = "\r\n" + name + ": ";
    size_t at = request.find(key);
    if (at == std::string::npos) return "";
    size_t start = at + key.size();
    return request.substr(start, request.find("\r\n", start) - start);
}

// The resolution byte the emulator puts into every frame it makes (frame[2]).
int frame_mode(const std::string& request) {
    size_t body = request.find("\r\n\r\n");
    return body == std::string::npos || request.size() < body + 7
               ? -1
               : static_cast<uint8_t>(request[body + 4 + 2]);
}

struct Script {
    std::string config = R"({"version": 0})";
    std::vector<std::string> commands;
    std::string firmware = "null";
    std::string image = vector_image();
    // From this time on (simulated ms), `later_config` replaces `config`.
    uint32_t change_ms = UINT32_MAX;
    std::string later_config;
};

// An ingest that answers uploads (201) and check-ins (200) with the script's state, drops the
// commands reported done, and serves the firmware image.
std::function<std::string(const std::string&)> ingest(std::shared_ptr<Script> script) {
    return [script](const std::string& request) {
        if (request.rfind("GET /firmware/", 0) == 0) {
            return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(script->image.size()) +
                   "\r\n\r\n" + script->image;
        }
        std::string done = header(request, "X-Commands-Done");
        std::vector<std::string> left;
        for (const std::string& id : script->commands) {
            if (done.find(id + "=") == std::string::npos) left.push_back(id);
        }
        script->commands = left;
        std::string commands = "[";
        for (size_t i = 0; i < left.size(); ++i) {
            commands += (i > 0 ? ", " : "") + std::string(R"({"id": ")") + left[i] +
                        R"(", "type": "capture"})";
        }
        commands += "]";
        const std::string& config =
            sim::now_ms() >= script->change_ms ? script->later_config : script->config;
        std::string state = R"({"config": )" + config + R"(, "commands": )" + commands +
                            R"(, "firmware": )" + script->firmware + "}";
        std::string body, status;
        if (request.rfind("POST ", 0) == 0) {
            status = "201 CREATED";
            body = R"({"id": ")" + header(request, "X-Capture-Id") + R"(", "state": )" + state + "}";
        } else {
            status = "200 OK";
            body = R"({"state": )" + state + "}";
        }
        return "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
    };
}

}  // namespace

TEST_SUITE("device management, whole firmware") {
    TEST_CASE("settings, capture now and a signed update reach the camera, in that order") {
        // Given an owner who set VGA, pressed capture-now and published 1.2.0 (running 1.0.0)
        auto script = std::make_shared<Script>();
        script->config = R"({"version": 2, "image_mode": "vga", "jpeg_quality": "low", "interval_s": 60})";
        script->commands = {"3f9a0c11d2"};
        script->firmware = kVectorOffer;
        Boot b;
        b.ingest = ingest(script);
        b.run_ms = 60000;
        // When the camera boots and uploads its first picture
        Outcome out = boot(b);
        INFO(out.serial.substr(0, 4000));
        // Then it applied the config, took the capture-now in VGA and reported it with that capture
        CHECK(logged(out, "config 2 applied: every 60 s, vga"));
        REQUIRE(out.posts >= 2);
        CHECK(frame_mode(out.requests[0]) == 0x08);  // QXGA from config.h, before the answer
        const std::string& capture_now = out.requests[1];
        std::string id = header(capture_now, "X-Capture-Id");
        CHECK(header(capture_now, "X-Commands-Done") == "3f9a0c11d2=" + id);
        CHECK(frame_mode(capture_now) == 0x02);  // CAM_IMAGE_MODE_VGA
        CHECK(header(capture_now, "X-Config-Version") == "2");
        // And only then, with nothing waiting, installed the update and rebooted into it
        REQUIRE(out.requests.size() >= 3);
        CHECK(out.requests[2].rfind("GET /firmware/1.2.0/firmware.bin?X-Amz-Signature=abc HTTP/1.1\r\n", 0) == 0);
        CHECK(out.ota_written == vector_image());
        CHECK(out.ota_boot_switched);
        CHECK(logged(out, "ota: rebooting into 1.2.0"));
        CHECK(out.ended == "watchdog_reset");  // the simulated ESP.restart()
    }

    TEST_CASE("regression: an image that does not match its signed SHA-256 never becomes the boot image") {
        // Given a signed offer whose object in the bucket was swapped (same size)
        auto script = std::make_shared<Script>();
        script->firmware = kVectorOffer;
        script->image[10] ^= 0x20;
        Boot b;
        b.ingest = ingest(script);
        b.run_ms = 150000;
        // When the camera sees it
        Outcome out = boot(b);
        INFO(out.serial.substr(0, 4000));
        // Then it is written, checked, refused; the boot partition stays; the camera keeps going
        // and reports the reason once, not trying the same version again
        CHECK(out.ota_written.size() == 61);
        CHECK_FALSE(out.ota_boot_switched);
        CHECK(out.ended == "still_awake");
        int reports = 0, downloads = 0;
        for (const std::string& request : out.requests) {
            if (header(request, "X-Ota-Result") == "failed:sha256") ++reports;
            if (request.rfind("GET /firmware/", 0) == 0) ++downloads;
        }
        CHECK(reports == 1);
        CHECK(downloads == 1);
        CHECK(out.posts >= 2);
    }

    TEST_CASE("a new image confirms itself after its first stored upload, then reports ok") {
        // Given the first boot of 1.0.0 after an update to it (pending verification)
        Boot b;
        b.nvs_strings = {{"ota_pending", "1.0.0"}};
        b.ota_running_state = 1;  // ESP_OTA_IMG_PENDING_VERIFY
        b.run_ms = 130000;
        Outcome out = boot(b);
        // Then the first upload confirmed it and the next request says so
        CHECK(out.ota_marked_valid);
        REQUIRE(out.posts >= 2);
        CHECK(header(out.requests[0], "X-Ota-Result") == "");
        CHECK(header(out.requests[1], "X-Ota-Result") == "ok");
        CHECK(header(out.requests[1], "X-Firmware") == "1.0.0");
        CHECK(logged(out, "ota: 1.0.0 confirmed"));
    }

    TEST_CASE("the old image after a rollback reports it") {
        // Given 1.2.0 was installed, but the bootloader is back on 1.0.0 (it never confirmed)
        Boot b;
        b.nvs_strings = {{"ota_pending", "1.2.0"}};
        b.run_ms = 30000;
        Outcome out = boot(b);
        REQUIRE(out.posts >= 1);
        CHECK(header(out.requests[0], "X-Ota-Result") == "failed:rollback");
        CHECK_FALSE(out.ota_marked_valid);
    }

    TEST_CASE("regression: a config with an interval of 0 keeps the camera capturing") {
        auto script = std::make_shared<Script>();
        script->config = R"({"version": 3, "interval_s": 0, "checkin_s": 0, "image_mode": "wqxga2"})";
        Boot b;
        b.ingest = ingest(script);
        b.run_ms = 5UL * 60UL * 1000UL;
        Outcome out = boot(b);
        CHECK(logged(out, "config 3 applied: every 60 s, qxga, check-in 60 s; kept the last good "
                          "interval_s,image_mode,checkin_s"));
        CHECK(out.posts >= 5);  // still one a minute
        CHECK(header(out.requests.back(), "X-Config-Version") == "3");
    }

    TEST_CASE("a config change reaches an awake camera within one check-in period") {
        // Given a camera that uploads every 10 minutes and checks in every 30 s
        auto script = std::make_shared<Script>();
        script->config = R"({"version": 1, "interval_s": 600, "checkin_s": 30})";
        script->later_config = R"({"version": 2, "interval_s": 600, "checkin_s": 30, "image_mode": "hd"})";
        script->change_ms = 200000;  // the owner saves the new settings at 200 s
        Boot b;
        b.ingest = ingest(script);
        b.run_ms = 300000;
        Outcome out = boot(b);
        // Then the first request after the change gets it, at most 30 s later, by a check-in
        size_t first_after = 0;
        while (first_after < out.request_ms.size() && out.request_ms[first_after] < script->change_ms) {
            ++first_after;
        }
        REQUIRE(first_after + 1 < out.requests.size());
        CHECK(out.request_ms[first_after] - script->change_ms <= 30000);
        CHECK(out.requests[first_after].rfind("GET /device/state ", 0) == 0);
        CHECK(header(out.requests[first_after], "X-Config-Version") == "1");
        CHECK(header(out.requests[first_after + 1], "X-Config-Version") == "2");
        CHECK(logged(out, "config 2 applied: every 600 s, hd, check-in 30 s"));
        CHECK(out.posts == 1);  // the boot's picture; the interval is 10 minutes
    }
}
