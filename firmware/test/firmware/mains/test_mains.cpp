// The whole firmware mains-powered (test/firmware/mains/mains_config.h: a capture every 60 s) on the
// simulated board, for minutes of simulated time.
#include <doctest/doctest.h>

#include "harness.h"

using firmware_test::Boot;
using firmware_test::boot;
using firmware_test::captured_at_header;
using firmware_test::logged;
using firmware_test::Outcome;

TEST_SUITE("mains power, whole firmware") {
    TEST_CASE("no camera at boot: no reboot loop, and a camera plugged in later is found") {
        // Given a camera that is only plugged in two minutes after power-on
        Boot b;
        b.camera_plugged_in_ms = 120000;
        b.run_ms = 10UL * 60UL * 1000UL;
        // When the firmware runs for ten minutes
        Outcome out = boot(b);
        INFO(out.serial.substr(0, 3000));
        // Then it never stopped feeding the watchdog, said what was wrong, kept probing with
        // growing gaps (found within the 5 min cap), and once the camera answered it took and
        // uploaded a picture every minute, dated
        CHECK(out.ended == "still_awake");
        CHECK(logged(out, "camera not found"));
        CHECK(logged(out, "camera: probe 3 failed"));
        CHECK(logged(out, "camera: ready"));
        CHECK(logged(out, "wifi: connected"));
        CHECK(out.posts >= 4);
        CHECK(out.posts <= 9);
        // Check-ins (every 60 s) only while no upload answered within the period: until the
        // camera is found (its probes back off, so a few minutes), not after.
        CHECK(out.checkins >= 2);
        CHECK(out.checkins <= 6);
        CHECK(out.requests.back().rfind("POST /upload ", 0) == 0);
        CHECK(captured_at_header(out.request) > 0);
    }

    TEST_CASE("a 2 MB PSRAM part gets a frame ring it can allocate, not none") {
        // Given an ESP32-S3 N8R2: 2 MB of PSRAM, about 2,000,000 bytes in its largest free block
        Boot b;
        b.psram_bytes = 2UL * 1024UL * 1024UL;
        b.psram_free = 2030000;
        b.psram_largest_block = 2000000;
        b.run_ms = 2000;
        // When the firmware starts
        Outcome out = boot(b);
        // Then the ring takes what fits, leaving 256 KiB to the rest of the firmware
        CHECK(logged(out, "failed frames are kept for retry in 1737856 bytes"));
    }
}
