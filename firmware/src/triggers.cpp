#include "triggers.h"

#include <Arduino.h>

#include <cstdio>

volatile bool Triggers::pir_fired_ = false;

Triggers::Triggers(uint16_t http_port, int pir_pin, uint32_t min_gap_ms, const DeviceStatus& status)
    : server_(http_port), http_port_(http_port), pir_pin_(pir_pin), min_gap_ms_(min_gap_ms),
      status_(status) {}

void IRAM_ATTR Triggers::on_pir_edge() { pir_fired_ = true; }

void Triggers::begin() {
    if (http_port_ != 0) {
        server_.on("/capture", HTTP_GET, [this]() { serve_capture(); });
        server_.on("/capture", HTTP_POST, [this]() { serve_capture(); });
        server_.on("/status", HTTP_GET, [this]() { serve_status(); });
        server_.begin();
    }
    if (pir_pin_ >= 0) {
        pinMode(static_cast<uint8_t>(pir_pin_), INPUT);
        attachInterrupt(static_cast<uint8_t>(digitalPinToInterrupt(pir_pin_)), on_pir_edge, RISING);
    }
}

void Triggers::poll() {
    if (http_port_ != 0) server_.handleClient();
}

void Triggers::serve_capture() {
    http_requested_ = true;
    server_.send(202, "application/json", "{\"capture\": \"requested\"}");
}

void Triggers::serve_status() {
    char json[256];
    std::snprintf(json, sizeof json,
                  "{\"boot_count\": %lu, \"reset_reason\": \"%s\", \"captures\": %lu, "
                  "\"uploaded\": %lu, \"lost\": %lu, \"rejected\": %lu, \"waiting\": %lu, "
                  "\"last_status\": %d}",
                  static_cast<unsigned long>(status_.boot_count), status_.reset_reason,
                  static_cast<unsigned long>(status_.captures),
                  static_cast<unsigned long>(status_.uploaded),
                  static_cast<unsigned long>(status_.frames_lost),
                  static_cast<unsigned long>(status_.frames_rejected),
                  static_cast<unsigned long>(status_.frames_waiting), status_.last_status);
    server_.send(200, "application/json", json);
}

const char* Triggers::take(uint32_t now_ms) {
    const char* reason = nullptr;
    if (pir_fired_) {
        pir_fired_ = false;
        reason = "pir";
    }
    if (http_requested_) {
        http_requested_ = false;
        reason = "http";
    }
    if (reason == nullptr) return nullptr;
    if (fired_before_ && now_ms - last_fired_ms_ < min_gap_ms_) return nullptr;
    fired_before_ = true;
    last_fired_ms_ = now_ms;
    return reason;
}
