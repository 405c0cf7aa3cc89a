#include "wifi_connection.h"

#include <Arduino.h>
#include <WiFi.h>
#include <esp_task_wdt.h>

#include "app_config.h"

bool WifiConnection::connect(const char* host, uint16_t port) {
    esp_task_wdt_reset();
    IPAddress ip;
    if (!ip.fromString(host)) {
        // arduino-esp32 gives up on an unanswered lookup after 15 s.
        if (WiFi.hostByName(host, ip) != 1) {
            CAMCLOUD_LOG("dns: no address for %s", host);
            return false;
        }
        esp_task_wdt_reset();
    }
    bool ok;
    if (tls_ != nullptr) {
        // setTimeout() is not virtual: it must be WiFiClientSecure's own (seconds).
        tls_->setTimeout(kConnectTimeoutS);
        tls_->setHandshakeTimeout(kHandshakeTimeoutS);
        // The address is resolved already; the name still goes out as SNI and is checked
        // against the certificate.
        ok = tls_->connect(ip, port, host, root_ca_, nullptr, nullptr) == 1;
    } else {
        ok = client_.connect(ip, port, static_cast<int32_t>(kConnectTimeoutS * 1000)) == 1;
        if (ok) client_.setTimeout(kConnectTimeoutS);
    }
    esp_task_wdt_reset();
    if (!ok) CAMCLOUD_LOG("connect: %s:%u did not answer", host, static_cast<unsigned>(port));
    return ok;
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
