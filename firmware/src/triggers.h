// What asks for a capture besides the interval: GET/POST /capture on the camera's own web
// server (the original sketch's trigger) and a rising edge on a PIR sensor's GPIO.
#pragma once

#include <WebServer.h>

#include <cstdint>

#include "status.h"

class Triggers {
public:
    Triggers(uint16_t http_port, int pir_pin, uint32_t min_gap_ms, const DeviceStatus& status);
    void begin();
    // Call from loop(): serves pending HTTP requests.
    void poll();
    // The reason for a capture due now ("http" or "pir"), null when none; merges triggers that
    // come closer together than min_gap_ms.
    const char* take(uint32_t now_ms);

private:
    static void IRAM_ATTR on_pir_edge();
    void serve_capture();
    void serve_status();

    static volatile bool pir_fired_;
    WebServer server_;
    uint16_t http_port_;
    int pir_pin_;
    uint32_t min_gap_ms_;
    const DeviceStatus& status_;
    bool http_requested_ = false;
    bool fired_before_ = false;
    uint32_t last_fired_ms_ = 0;
};
