// Telemetry headers for each upload: firmware, RSSI, free heap, boot count, reset reason, uptime.
#pragma once

#include <esp_system.h>

#include "camcloud/request.h"
#include "status.h"

// The reset reason as the gallery shows it ("power_on", "task_watchdog", "brownout", ...).
const char* reset_reason_name(esp_reset_reason_t reason);

// A snapshot of the camera's health for the next request.
camcloud::Telemetry collect_telemetry(const DeviceStatus& status);
