#include "telemetry.h"

#include <Arduino.h>
#include <WiFi.h>
#include <esp_timer.h>

#include "app_config.h"

const char* reset_reason_name(esp_reset_reason_t reason) {
    switch (reason) {
        case ESP_RST_POWERON: return "power_on";
        case ESP_RST_EXT: return "external";
        case ESP_RST_SW: return "software";
        case ESP_RST_PANIC: return "panic";
        case ESP_RST_INT_WDT: return "interrupt_watchdog";
        case ESP_RST_TASK_WDT: return "task_watchdog";
        case ESP_RST_WDT: return "watchdog";
        case ESP_RST_DEEPSLEEP: return "deep_sleep";
        case ESP_RST_BROWNOUT: return "brownout";
        case ESP_RST_SDIO: return "sdio";
        default: return "unknown";
    }
}

camcloud::Telemetry collect_telemetry(const DeviceStatus& status) {
    camcloud::Telemetry t;
    t.firmware = CAMCLOUD_FIRMWARE_VERSION;
    t.rssi_dbm = WiFi.RSSI();
    t.has_rssi = true;
    t.free_heap = ESP.getFreeHeap();
    t.max_alloc_heap = ESP.getMaxAllocHeap();
    t.boot_count = status.boot_count;
    t.reset_reason = status.reset_reason;
    t.uptime_s = esp_timer_get_time() / 1000000;
    t.frames_lost = status.frames_lost;
    return t;
}
