#include "wifi_connection.h"

#include <Arduino.h>
#include <esp_task_wdt.h>

bool WifiConnection::connect(const char* host, uint16_t port) {
    esp_task_wdt_reset();
    return client_.connect(host, port) == 1;
}

long WifiConnection::write(const uint8_t* data, size_t len) {
    esp_task_wdt_reset();
    size_t sent = client_.write(data, len);
    // The client retries internally until its own timeout: 0 means the link is gone.
    return sent == 0 ? -1 : static_cast<long>(sent);
}

long WifiConnection::read(uint8_t* data, size_t len) {
    uint32_t started = millis();
    while (true) {
        int ready = client_.available();
        if (ready > 0) {
            size_t want = static_cast<size_t>(ready) < len ? static_cast<size_t>(ready) : len;
            int got = client_.read(data, want);
            return got > 0 ? got : -1;
        }
        if (!client_.connected()) return 0;
        if (millis() - started > read_timeout_ms_) return -1;
        esp_task_wdt_reset();
        delay(5);  // let the WiFi task run while the ingest thinks
    }
}

void WifiConnection::close() { client_.stop(); }
