// The whole firmware (src/main.cpp's setup() and loop(), every glue file, the REAL Arducam
// driver) in battery mode (test/firmware/battery_config.h) on the simulated board: one wake
// from power-on or deep sleep until esp_deep_sleep_start(). The clock is simulated; so are
// WiFi, SNTP, the ingest (answers 201) and the 30 s task watchdog.
//
// main.cpp keeps its state in globals, as a sketch does: each scenario runs in a forked child
// (a fresh "boot") and hands its observations back through a pipe.
#include <doctest/doctest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "arducam_mega_emulator.h"
#include "sim.h"

void setup();
void loop();

namespace {

constexpr int kCsPin = 10;
constexpr int64_t kSntpUnix = 1767225606;  // what the SNTP reply says, 2026-01-01T00:00:06Z
// The budget is checked between loop() passes; one camera probe (0.5 s) may straddle it.
constexpr uint32_t Camera_probe_allowance_ms = 1000;

struct Wake {
    std::string outcome;  // "deep_sleep", "watchdog_reset", "still_awake"
    uint32_t ended_ms = 0;
    std::string serial;
    std::string request;  // the last request the ingest received
    int uploads = 0;
};

struct Scenario {
    bool camera = true;
    bool camera_in_low_power = false;  // the previous wake's lowPowerOn() (module stays powered)
    int reset_reason = 8;              // ESP_RST_DEEPSLEEP
    uint32_t join_ms = 4500;
    int64_t sntp_reply_after_wifi_ms = 1500;  // < 0: SNTP never answers
    uint32_t give_up_ms = 120000;
};

void write_field(int fd, const std::string& value) {
    std::string frame = std::to_string(value.size()) + ":" + value;
    const char* p = frame.data();
    size_t left = frame.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n <= 0) _exit(3);
        p += n;
        left -= static_cast<size_t>(n);
    }
}

bool read_field(const std::string& data, size_t& pos, std::string& out) {
    size_t colon = data.find(':', pos);
    if (colon == std::string::npos) return false;
    size_t len = std::stoul(data.substr(pos, colon - pos));
    out = data.substr(colon + 1, len);
    pos = colon + 1 + len;
    return true;
}

// Boots the firmware in a child process and runs loop() until it sleeps, resets or gives up.
Wake run_wake(const Scenario& s) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        sim::reset();
        sim::chip().reset_reason = s.reset_reason;
        sim::chip().psram_size = 8UL * 1024UL * 1024UL;
        sim::chip().free_psram = 8321512;
        sim::chip().max_alloc_psram = 8257536;
        sim::wifi().join_ms = s.join_ms;
        ArducamMegaEmulator* module = s.camera ? new ArducamMegaEmulator(kCsPin) : nullptr;
        if (module != nullptr) module->set_low_power(s.camera_in_low_power);
        std::string outcome = "still_awake";
        int uploads = 0;
        std::string last_request;
        int64_t wifi_up_ms = -1;
        bool replied = false;
        try {
            setup();
            while (sim::now_ms() < s.give_up_ms) {
                loop();
                if (!sim::net().sent.empty()) last_request = sim::net().sent;
                if (wifi_up_ms < 0 && sim::wifi().connected) wifi_up_ms = sim::now_ms();
                if (!replied && s.sntp_reply_after_wifi_ms >= 0 && wifi_up_ms >= 0 &&
                    sim::sntp().started &&
                    sim::now_ms() >= wifi_up_ms + s.sntp_reply_after_wifi_ms) {
                    replied = true;
                    sim::sntp_reply(kSntpUnix);
                }
            }
        } catch (const sim::DeepSleep&) {
            outcome = "deep_sleep";
        } catch (const sim::WatchdogReset&) {
            outcome = "watchdog_reset";
        }
        // The upload and the sleep may come in the same loop() pass.
        if (!sim::net().sent.empty()) last_request = sim::net().sent;
        uploads = sim::net().connects;
        write_field(fds[1], outcome);
        write_field(fds[1], std::to_string(sim::now_ms()));
        write_field(fds[1], sim::serial());
        write_field(fds[1], last_request);
        write_field(fds[1], std::to_string(uploads));
        ::close(fds[1]);
        _exit(0);
    }
    ::close(fds[1]);
    std::string data;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) data.append(buffer, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    Wake wake;
    size_t pos = 0;
    std::string ended, uploads;
    REQUIRE(read_field(data, pos, wake.outcome));
    REQUIRE(read_field(data, pos, ended));
    REQUIRE(read_field(data, pos, wake.serial));
    REQUIRE(read_field(data, pos, wake.request));
    REQUIRE(read_field(data, pos, uploads));
    wake.ended_ms = static_cast<uint32_t>(std::stoul(ended));
    wake.uploads = std::stoi(uploads);
    return wake;
}

int64_t captured_at_header(const std::string& request) {
    size_t at = request.find("\r\nX-Captured-At: ");
    if (at == std::string::npos) return -1;
    return std::stoll(request.substr(at + 17));
}

bool logged(const Wake& wake, const std::string& text) {
    return wake.serial.find(text) != std::string::npos;
}

}  // namespace

TEST_SUITE("battery mode, whole firmware") {
    TEST_CASE("a wake takes the picture at once, uploads it dated from the SNTP reply, then sleeps") {
        // Given a deep-sleep wake with WiFi up after 4.5 s and the SNTP reply 1.5 s later
        Scenario s;
        // When the firmware runs
        Wake wake = run_wake(s);
        // Then it went back to deep sleep after the reply, having uploaded the picture once
        CHECK(wake.outcome == "deep_sleep");
        CHECK(wake.uploads == 1);
        CHECK(wake.ended_ms >= 6000);
        CHECK(wake.ended_ms < 45000);
        CHECK(logged(wake, "(wake), dated once SNTP answers"));
        CHECK(logged(wake, "time: SNTP answered"));
        CHECK(logged(wake, "-> stored"));
        INFO(wake.serial);
        // And the picture is dated from the reply counted back to the capture, early in the wake
        // (before WiFi), not from the RTC
        int64_t captured_at = captured_at_header(wake.request);
        CHECK(captured_at >= kSntpUnix - 6);
        CHECK(captured_at <= kSntpUnix - 4);
    }

    TEST_CASE("without an SNTP reply the upload waits 8 s at most, goes undated, then sleeps") {
        Scenario s;
        s.sntp_reply_after_wifi_ms = -1;
        Wake wake = run_wake(s);
        CHECK(wake.outcome == "deep_sleep");
        CHECK(wake.uploads == 1);
        CHECK(wake.request.find("X-Captured-At") == std::string::npos);
        CHECK(wake.request.find("\r\nX-Capture-Id: ") != std::string::npos);
        // WiFi at 4.5 s + the 8 s SNTP wait: not earlier, and not much later
        CHECK(wake.ended_ms >= 12500);
        CHECK(wake.ended_ms < 20000);
    }

    TEST_CASE("the camera left in low-power mode by the last sleep takes the wake's picture") {
        Scenario s;
        s.camera_in_low_power = true;
        Wake wake = run_wake(s);
        CHECK(wake.outcome == "deep_sleep");
        CHECK(logged(wake, "camera: ready"));
        CHECK(wake.uploads == 1);
        CHECK(wake.request.find("POST /upload HTTP/1.1\r\n") == 0);
    }

    TEST_CASE("no camera: the wake ends asleep within the awake budget, not in a reboot loop") {
        Scenario s;
        s.camera = false;
        Wake wake = run_wake(s);
        CHECK(wake.outcome == "deep_sleep");
        CHECK(wake.ended_ms <= 45000 + Camera_probe_allowance_ms);
        CHECK(wake.uploads == 0);
        CHECK(logged(wake, "camera not found"));
    }
}
