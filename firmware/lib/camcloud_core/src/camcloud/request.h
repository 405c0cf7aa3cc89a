// The upload URL and the exact bytes of the request head (portable: no Arduino.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace camcloud {

struct UploadUrl {
    bool tls = false;     // https://
    char host[64] = {0};  // name or address, without the port
    uint16_t port = 0;    // 80 / 443 unless the URL names one
    char path[96] = {0};  // "/upload"
    bool default_port = true;
};

// Parses "http[s]://host[:port][/path]" into url; false (and url untouched) when it is not one.
bool parse_upload_url(const char* text, UploadUrl& url);

// Camera health sent with every upload (device protocol: telemetry headers). Empty strings and negative
// numbers are left out of the request.
struct Telemetry {
    const char* firmware = nullptr;      // X-Firmware
    int32_t rssi_dbm = 0;                // X-RSSI, sent when has_rssi
    bool has_rssi = false;
    int64_t free_heap = -1;              // X-Free-Heap, bytes
    int64_t max_alloc_heap = -1;         // X-Max-Alloc-Heap: largest free block, what TLS needs
    int64_t boot_count = -1;             // X-Boot-Count
    const char* reset_reason = nullptr;  // X-Reset-Reason
    int64_t uptime_s = -1;               // X-Uptime, seconds
    int64_t frames_lost = -1;            // X-Frames-Lost: frames dropped since boot (no PSRAM room)
};

// What the camera reports back about the state of earlier answers (protocol v1.1); each is
// left out when empty / negative.
struct Report {
    int64_t config_version = -1;         // X-Config-Version: the config version applied
    const char* commands_done = nullptr;  // X-Commands-Done: "id" or "id=captureid", comma-separated
    const char* ota_result = nullptr;     // X-Ota-Result: "ok" or "failed:<reason>"
};

struct UploadRequest {
    const UploadUrl* url = nullptr;
    const char* device_key = nullptr;  // Authorization: Bearer <key>
    const char* device_id = nullptr;   // X-Device-Id, optional
    const char* capture_id = nullptr;  // X-Capture-Id, reused by every retry
    int64_t captured_at = -1;          // X-Captured-At in Unix seconds; < 0 when NTP has no time yet
    uint32_t content_length = 0;       // the JPEG's exact size
    const char* user_agent = "camcloud-firmware";
    const Telemetry* telemetry = nullptr;
    const Report* report = nullptr;
};

// A check-in without an image: GET /device/state next to the upload path.
struct StateRequest {
    const UploadUrl* url = nullptr;
    const char* device_key = nullptr;
    const char* device_id = nullptr;
    const char* user_agent = "camcloud-firmware";
    const Telemetry* telemetry = nullptr;
    const Report* report = nullptr;
};

// The check-in path for an upload path: "/upload" -> "/device/state", "/cam/upload" ->
// "/cam/device/state"; any other path -> "/device/state". false when out is too small.
bool state_path_for(const char* upload_path, char* out, size_t out_size);

// Writes the GET /device/state request head into out; 0 when it does not fit or a field is bad.
size_t build_state_request_head(const StateRequest& request, char* out, size_t out_size);

// Writes the request line and headers (ending with the blank line) into out; returns the number
// of bytes, 0 when out is too small or a field is missing or would break the header syntax.
size_t build_request_head(const UploadRequest& request, char* out, size_t out_size);

}  // namespace camcloud
