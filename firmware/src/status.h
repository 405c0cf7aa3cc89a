// The camera's health counters, shared by the uploader, the telemetry headers and /status.
// Not "CameraStatus": the real Arducam/ArducamCamera.h already typedefs that name.
#pragma once

#include <cstdint>

struct DeviceStatus {
    uint32_t boot_count = 0;
    const char* reset_reason = "unknown";
    uint32_t captures = 0;         // frames taken since boot
    uint32_t uploaded = 0;         // stored, duplicate or queued
    uint32_t frames_lost = 0;      // failed and could not be kept (no PSRAM room)
    uint32_t frames_rejected = 0;  // the ingest refused them (4xx that retrying cannot fix)
    uint32_t frames_waiting = 0;   // kept in PSRAM for a retry
    int last_status = 0;           // HTTP status of the last upload attempt
};
