// Runs the whole firmware (setup() and loop() of src/main.cpp, every glue file, the REAL Arducam
// driver) on the simulated board: one boot per call, in a forked child, because main.cpp keeps
// its state in globals as a sketch does. The child hands its observations back through a pipe.
#pragma once

#include <doctest/doctest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <Preferences.h>

#include "arducam_mega_emulator.h"
#include "sim.h"

void setup();
void loop();

namespace firmware_test {

constexpr int64_t kSntpUnix = 1767225606;  // what every SNTP reply says, 2026-01-01T00:00:06Z

struct Boot {
    bool camera = true;
    int camera_cs_pin = 10;
    bool camera_in_low_power = false;  // the previous wake's lowPowerOn() (module stays powered)
    int64_t camera_plugged_in_ms = 0;  // > 0: no camera until then
    int reset_reason = 1;              // ESP_RST_POWERON
    uint32_t join_ms = 4500;
    int64_t sntp_reply_after_wifi_ms = 1500;  // < 0: SNTP never answers
    uint32_t run_ms = 120000;                 // stop (still awake) after this long
    uint32_t psram_bytes = 8UL * 1024UL * 1024UL;  // an 8 MB part (N8R8, XIAO ESP32S3)
    uint32_t psram_free = 8321512;
    uint32_t psram_largest_block = 8257536;
    // The ingest: answers each request from its bytes (empty: 201 {} to everything).
    std::function<std::string(const std::string& request)> ingest;
    std::vector<std::pair<std::string, std::string>> nvs_strings;  // Preferences before boot
    int ota_running_state = 2;  // esp_ota_img_states_t of the running image (1: PENDING_VERIFY)
};

struct Outcome {
    std::string ended;  // "deep_sleep", "watchdog_reset" or "still_awake"
    uint32_t ended_ms = 0;
    std::string serial;
    std::string request;  // the last request the ingest received
    int uploads = 0;      // connections made to the ingest
    int posts = 0;        // of which uploads (POST)
    int checkins = 0;     // of which check-ins (GET /device/state)
    std::vector<std::string> requests;  // every request, in order
    std::vector<uint32_t> request_ms;    // when each one ended
    std::string ota_written;             // what Update received
    bool ota_boot_switched = false;      // Update.end() switched the boot partition
    bool ota_marked_valid = false;       // esp_ota_mark_app_valid_cancel_rollback() called
};

namespace detail {
inline void write_field(int fd, const std::string& value) {
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

inline bool read_field(const std::string& data, size_t& pos, std::string& out) {
    size_t colon = data.find(':', pos);
    if (colon == std::string::npos) return false;
    size_t len = std::stoul(data.substr(pos, colon - pos));
    out = data.substr(colon + 1, len);
    pos = colon + 1 + len;
    return true;
}

[[noreturn]] inline void child(const Boot& b, int fd) {
    sim::reset();
    sim::chip().reset_reason = b.reset_reason;
    sim::chip().psram_size = b.psram_bytes;
    sim::chip().free_psram = b.psram_free;
    sim::chip().max_alloc_psram = b.psram_largest_block;
    sim::wifi().join_ms = b.join_ms;
    sim::net().answer = b.ingest;
    sim::ota().running_state = b.ota_running_state;
    for (const auto& entry : b.nvs_strings) {
        Preferences preferences;
        preferences.begin("camcloud", false);
        preferences.putString(entry.first.c_str(), entry.second.c_str());
        preferences.end();
    }
    std::unique_ptr<ArducamMegaEmulator> module;
    auto plug_in = [&]() {
        module.reset(new ArducamMegaEmulator(b.camera_cs_pin));
        module->set_low_power(b.camera_in_low_power);
    };
    if (b.camera && b.camera_plugged_in_ms <= 0) plug_in();
    std::string ended = "still_awake";
    std::string last_request;
    int64_t wifi_up_ms = -1;
    bool replied = false;
    try {
        setup();
        while (sim::now_ms() < b.run_ms) {
            loop();
            if (!sim::net().sent.empty()) last_request = sim::net().sent;
            if (b.camera && !module && sim::now_ms() >= b.camera_plugged_in_ms) plug_in();
            if (wifi_up_ms < 0 && sim::wifi().connected) wifi_up_ms = sim::now_ms();
            if (!replied && b.sntp_reply_after_wifi_ms >= 0 && wifi_up_ms >= 0 &&
                sim::sntp().started && sim::now_ms() >= wifi_up_ms + b.sntp_reply_after_wifi_ms) {
                replied = true;
                sim::sntp_reply(kSntpUnix);
            }
        }
    } catch (const sim::DeepSleep&) {
        ended = "deep_sleep";
    } catch (const sim::WatchdogReset&) {
        ended = "watchdog_reset";
    }
    // The upload and the sleep may come in the same loop() pass.
    if (!sim::net().sent.empty()) last_request = sim::net().sent;
    write_field(fd, ended);
    write_field(fd, std::to_string(sim::now_ms()));
    write_field(fd, sim::serial());
    write_field(fd, last_request);
    write_field(fd, std::to_string(sim::net().connects));
    std::vector<std::string> requests = sim::net().requests;
    std::vector<uint32_t> request_ms = sim::net().request_ms;
    if (sim::net().open && !sim::net().sent.empty()) {
        requests.push_back(sim::net().sent);
        request_ms.push_back(sim::now_ms());
    }
    write_field(fd, std::to_string(requests.size()));
    for (size_t i = 0; i < requests.size(); ++i) {
        write_field(fd, requests[i]);
        write_field(fd, std::to_string(request_ms[i]));
    }
    write_field(fd, sim::ota().written);
    write_field(fd, sim::ota().boot_switched ? "1" : "0");
    write_field(fd, sim::ota().marked_valid ? "1" : "0");
    ::close(fd);
    _exit(0);
}
}  // namespace detail

// Boots the firmware and runs loop() until it sleeps, resets or b.run_ms has passed.
inline Outcome boot(const Boot& b) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        detail::child(b, fds[1]);
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
    Outcome out;
    size_t pos = 0;
    std::string ended_ms, uploads;
    REQUIRE(detail::read_field(data, pos, out.ended));
    REQUIRE(detail::read_field(data, pos, ended_ms));
    REQUIRE(detail::read_field(data, pos, out.serial));
    REQUIRE(detail::read_field(data, pos, out.request));
    REQUIRE(detail::read_field(data, pos, uploads));
    out.ended_ms = static_cast<uint32_t>(std::stoul(ended_ms));
    out.uploads = std::stoi(uploads);
    std::string count;
    REQUIRE(detail::read_field(data, pos, count));
    for (int i = 0; i < std::stoi(count); ++i) {
        std::string request, at_ms;
        REQUIRE(detail::read_field(data, pos, request));
        REQUIRE(detail::read_field(data, pos, at_ms));
        out.request_ms.push_back(static_cast<uint32_t>(std::stoul(at_ms)));
        if (request.rfind("POST ", 0) == 0) ++out.posts;
        if (request.rfind("GET /device/state ", 0) == 0) ++out.checkins;
        out.requests.push_back(request);
    }
    std::string flag;
    REQUIRE(detail::read_field(data, pos, out.ota_written));
    REQUIRE(detail::read_field(data, pos, flag));
    out.ota_boot_switched = flag == "1";
    REQUIRE(detail::read_field(data, pos, flag));
    out.ota_marked_valid = flag == "1";
    return out;
}

inline int64_t captured_at_header(const std::string& request) {
    size_t at = request.find("\r\nX-Captured-At: ");
    if (at == std::string::npos) return -1;
    return std::stoll(request.substr(at + 17));
}

inline bool logged(const Outcome& out, const std::string& text) {
    return out.serial.find(text) != std::string::npos;
}

}  // namespace firmware_test
