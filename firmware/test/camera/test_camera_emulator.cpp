// The glue's camera.cpp and the core's uploader driving the REAL Arducam_Mega 2.0.10 driver
// (ArducamCamera.c, Arducam_Mega.cpp, ArducamSpi.cpp) over a simulated SPI bus, against
// host/emulator's register-level Arducam Mega. The clock is simulated: delays cost no real time,
// and the simulated task watchdog (30 s) throws sim::WatchdogReset where a board would reboot.
#include <doctest/doctest.h>
#include <esp_task_wdt.h>

#include <string>
#include <vector>

#include "arducam_mega_emulator.h"
#include "camcloud/request.h"
#include "camcloud/upload.h"
#include "camera.h"
#include "fakes.h"
#include "sim.h"

namespace {

constexpr int kCsPin = 5;
const char* const kStored = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";

// A board just powered on: clock at 0, the loop task subscribed to a 30 s task watchdog.
void power_on() {
    sim::reset();
    esp_task_wdt_init(30, true);
    esp_task_wdt_add(nullptr);
}

struct Upload {
    camcloud_test::ScriptedConnection connection;
    camcloud::UploadResult result;
};

// Sends the frame waiting in the camera's FIFO the way main.cpp does without PSRAM.
Upload upload_fifo(Camera& camera, uint32_t size) {
    static camcloud::Uploader uploader;  // 2 KiB of buffers: static, as on the camera
    camcloud::UploadUrl url;
    REQUIRE(camcloud::parse_upload_url("http://192.168.1.10:8080/upload", url));
    camcloud::UploadRequest request;
    request.url = &url;
    request.device_key = "k3y";
    request.capture_id = "a0b7650c1dfe-1-0";
    request.content_length = size;
    Upload upload;
    upload.connection.response = kStored;
    CameraFifoSource source(camera.device());
    upload.result = uploader.upload(upload.connection, source, request);
    return upload;
}

std::string as_string(const std::vector<uint8_t>& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

}  // namespace

TEST_SUITE("camera on the real Arducam driver") {
    TEST_CASE("begin probes the camera, then discards the warm-up frames") {
        // Given a powered Arducam Mega 3MP on CS 5
        power_on();
        ArducamMegaEmulator module(kCsPin);
        Camera camera(kCsPin);
        // When the camera starts with 3 warm-up frames
        bool ok = camera.begin(CAM_IMAGE_MODE_QXGA, 3);
        // Then it is ready, the sensor was reset, and three frames were taken and thrown away
        CHECK(ok);
        CHECK(camera.ready());
        CHECK(module.sensor_resets() >= 1);
        CHECK(module.captures_started() == 3);
        CHECK(module.resolution() == CAM_IMAGE_MODE_QXGA);
        CHECK(module.pixel_format() == CAM_IMAGE_PIX_FMT_JPG);
        CHECK(sim::serial().find("camera: ready (sensor 0x82), 3 warm-up frames discarded") !=
              std::string::npos);
    }

    TEST_CASE("a capture is uploaded byte for byte as the FIFO held it") {
        // Given a ready camera whose next frame is a known 300 KB JPEG
        power_on();
        ArducamMegaEmulator module(kCsPin);
        Camera camera(kCsPin);
        REQUIRE(camera.begin(CAM_IMAGE_MODE_QXGA, 0));
        std::vector<uint8_t> jpeg = camcloud_test::make_frame(300 * 1024 + 17);
        module.next_frames.push_back(jpeg);
        // When it is captured and uploaded straight from the FIFO
        uint32_t size = camera.capture();
        REQUIRE(size == jpeg.size());
        Upload upload = upload_fifo(camera, size);
        // Then the ingest received exactly those bytes (the first burst's dummy byte skipped)
        CHECK(upload.result.error == camcloud::TransportError::none);
        CHECK(upload.result.status == 201);
        CHECK(upload.connection.head().find("\r\nContent-Length: 307217\r\n") != std::string::npos);
        CHECK(upload.connection.body() == as_string(jpeg));
        CHECK(camera.device().getReceivedLength() == 0);
    }

    TEST_CASE("a FIFO that reports more bytes than it holds still uploads, padding and all") {
        // Given a FIFO whose length registers claim 700 bytes more than the JPEG it holds
        power_on();
        ArducamMegaEmulator module(kCsPin);
        module.fifo_overreport = 700;
        module.pad_byte = 0x00;
        Camera camera(kCsPin);
        REQUIRE(camera.begin(CAM_IMAGE_MODE_VGA, 0));
        std::vector<uint8_t> jpeg = camcloud_test::make_frame(28000);
        module.next_frames.push_back(jpeg);
        // When it is captured and uploaded
        uint32_t size = camera.capture();
        Upload upload = upload_fifo(camera, size);
        // Then the upload announces and sends what the FIFO reported: the JPEG byte for byte,
        // then the padding, which the ingest trims after the end-of-image marker (device protocol)
        CHECK(size == 28700);
        CHECK(upload.result.status == 201);
        REQUIRE(upload.connection.body().size() == 28700);
        CHECK(upload.connection.body().substr(0, 28000) == as_string(jpeg));
        CHECK(upload.connection.body().substr(28000) == std::string(700, '\0'));
    }

    TEST_CASE("a FIFO length no frame can have is a failed capture, not a 16 MB upload") {
        // Given a glitch that makes the length registers read 0xF00000 over the frame
        power_on();
        ArducamMegaEmulator module(kCsPin);
        module.fifo_overreport = 0xF00000;
        Camera camera(kCsPin);
        REQUIRE(camera.begin(CAM_IMAGE_MODE_VGA, 0));
        // When a picture is taken
        // Then the capture fails with a log line, and the camera stays usable
        CHECK(camera.capture() == 0);
        CHECK(sim::serial().find("camera: FIFO length") != std::string::npos);
        module.fifo_overreport = 0;
        CHECK(camera.capture() > 0);
    }

    TEST_CASE("no camera on the bus: begin reports 'camera not found' in bounded time") {
        // Given nothing on CS 5 (MISO floats high), which makes the driver's own begin() spin
        // forever on the I2C-idle bit
        power_on();
        Camera camera(kCsPin);
        // When the camera starts
        bool ok = true;
        CHECK_NOTHROW(ok = camera.begin(CAM_IMAGE_MODE_QXGA, 3));
        // Then it gives up after the probe's limit, long before the 30 s watchdog, and says why
        CHECK_FALSE(ok);
        CHECK(sim::now_ms() < 1000);
        CHECK(sim::serial().find("camera not found") != std::string::npos);
    }

    TEST_CASE("no camera: the probe backs off instead of reboot-looping, and finds a late camera") {
        // Given no camera at boot
        power_on();
        sim::spi().idle_level = 0x00;  // a MISO line pulled low reads as a 0x00 sensor state
        Camera camera(kCsPin);
        REQUIRE_FALSE(camera.begin(CAM_IMAGE_MODE_QXGA, 0));
        uint32_t first_failure = sim::now_ms();
        // Then the next probe is not due at once but within the first backoff step (5-10 s)
        CHECK_FALSE(camera.retry_due(first_failure + 4000));
        CHECK(camera.retry_due(first_failure + 10000));
        // When the loop keeps running (feeding the watchdog) and probes whenever it is due
        int probes = 1;
        for (uint32_t t = 0; t < 10UL * 60UL * 1000UL; t += 1000) {
            sim::advance_ms(1000);
            esp_task_wdt_reset();
            if (camera.retry_due(sim::now_ms())) {
                ++probes;
                CHECK_FALSE(camera.begin(CAM_IMAGE_MODE_QXGA, 0));
            }
        }
        // Then ten minutes cost a handful of probes with growing gaps, and no watchdog reset
        CHECK(probes >= 4);
        CHECK(probes <= 10);
        // When the camera is plugged in, the next due probe finds it
        ArducamMegaEmulator module(kCsPin);
        while (!camera.retry_due(sim::now_ms())) {
            sim::advance_ms(1000);
            esp_task_wdt_reset();
        }
        CHECK(camera.begin(CAM_IMAGE_MODE_QXGA, 0));
        CHECK(camera.capture() > 0);
    }

    TEST_CASE("capture-done never set: the capture fails after its timeout, not at the watchdog") {
        // Given a camera that answers registers but whose sensor never finishes a frame
        power_on();
        ArducamMegaEmulator module(kCsPin);
        Camera camera(kCsPin);
        REQUIRE(camera.begin(CAM_IMAGE_MODE_QXGA, 0));
        module.capture_never_completes = true;
        // When a picture is taken
        uint32_t started = sim::now_ms();
        uint32_t size = 1;
        CHECK_NOTHROW(size = camera.capture());
        // Then it fails after the capture timeout, and the camera is marked for a new probe
        CHECK(size == 0);
        CHECK(sim::now_ms() - started >= Camera::kCaptureTimeoutMs);
        CHECK(sim::now_ms() - started < Camera::kCaptureTimeoutMs + 100);
        CHECK_FALSE(camera.ready());
        CHECK(camera.retry_due(sim::now_ms()));
        CHECK(sim::serial().find("no capture-done after 3000 ms") != std::string::npos);
        // When the sensor recovers, the re-probe brings the camera back
        module.capture_never_completes = false;
        CHECK(camera.begin(CAM_IMAGE_MODE_QXGA, 0));
        CHECK(camera.capture() > 0);
    }

    TEST_CASE("wake from deep sleep with the module still in low-power mode") {
        // Given a camera that went to deep sleep after lowPowerOn() (the module stays powered,
        // so it is still in low-power mode when the ESP32 wakes and runs setup() again)
        power_on();
        ArducamMegaEmulator module(kCsPin);
        {
            Camera before_sleep(kCsPin);
            REQUIRE(before_sleep.begin(CAM_IMAGE_MODE_QXGA, 0));
            before_sleep.sleep();
        }
        REQUIRE(module.low_power());
        sim::advance_ms(1000);
        esp_task_wdt_reset();
        // When the woken firmware starts the camera again and takes the wake-up picture
        Camera after_wake(kCsPin);
        REQUIRE(after_wake.begin(CAM_IMAGE_MODE_QXGA, 0));
        uint32_t size = after_wake.capture();
        // Then begin() left low-power mode and the capture completed
        CHECK_FALSE(module.low_power());
        CHECK(size == ArducamMegaEmulator::generated_frame(CAM_IMAGE_MODE_QXGA, 1).size());
    }

    TEST_CASE("the image mode can change between captures") {
        // Given a ready camera at QXGA
        power_on();
        ArducamMegaEmulator module(kCsPin);
        Camera camera(kCsPin);
        REQUIRE(camera.begin(CAM_IMAGE_MODE_QXGA, 0));
        uint32_t qxga = camera.capture();
        // When the mode changes to VGA, then to HD
        camera.set_mode(CAM_IMAGE_MODE_VGA);
        uint32_t vga = camera.capture();
        CHECK(module.resolution() == CAM_IMAGE_MODE_VGA);
        Upload upload = upload_fifo(camera, vga);
        camera.set_mode(CAM_IMAGE_MODE_HD);
        uint32_t hd = camera.capture();
        // Then each capture came from the sensor at the mode asked for, and uploads whole
        CHECK(module.resolution() == CAM_IMAGE_MODE_HD);
        CHECK(qxga == ArducamMegaEmulator::generated_frame(CAM_IMAGE_MODE_QXGA, 1).size());
        CHECK(vga == ArducamMegaEmulator::generated_frame(CAM_IMAGE_MODE_VGA, 2).size());
        CHECK(hd == ArducamMegaEmulator::generated_frame(CAM_IMAGE_MODE_HD, 3).size());
        CHECK(upload.connection.body() ==
              as_string(ArducamMegaEmulator::generated_frame(CAM_IMAGE_MODE_VGA, 2)));
    }

    TEST_CASE("single-byte and burst FIFO reads continue one stream of the frame") {
        // Given a captured 1000-byte frame
        power_on();
        ArducamMegaEmulator module(kCsPin);
        Camera camera(kCsPin);
        REQUIRE(camera.begin(CAM_IMAGE_MODE_QVGA, 0));
        std::vector<uint8_t> jpeg = camcloud_test::make_frame(1000);
        module.next_frames.push_back(jpeg);
        REQUIRE(camera.capture() == 1000);
        // When two bytes are read singly (0x3D), then the rest in bursts (0x3C)
        std::vector<uint8_t> got;
        got.push_back(camera.device().readByte());
        got.push_back(camera.device().readByte());
        CameraFifoSource source(camera.device());
        uint8_t buffer[255];
        while (uint8_t n = source.read(buffer, sizeof buffer)) got.insert(got.end(), buffer, buffer + n);
        // Then the bytes are the frame, in order, none lost to the framing's dummy bytes
        CHECK(got == jpeg);
        CHECK(module.fifo_read_position() == 1000);
    }

    TEST_CASE("something on the bus that is not an Arducam Mega is 'camera not found'") {
        // Given a device that answers the state register but reports an unknown sensor id
        power_on();
        ArducamMegaEmulator module(kCsPin, 0x00);
        Camera camera(kCsPin);
        // When the camera starts, Then it is not taken for a camera
        CHECK_FALSE(camera.begin(CAM_IMAGE_MODE_QXGA, 0));
        CHECK(sim::serial().find("sensor id 0x00 is no Arducam Mega") != std::string::npos);
        CHECK(module.captures_started() == 0);
    }
}
