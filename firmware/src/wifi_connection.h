// camcloud::Connection over a WiFiClient (plain) or WiFiClientSecure (TLS with a pinned root CA),
// in steps that each end well inside the 30 s task watchdog.
//
// WiFiClientSecure's defaults (arduino-esp32 2.0.x) are a 30 s TCP connect and a 120 s TLS
// handshake, and a DNS lookup may wait 15 s: against a stalled server or resolver one connect()
// outlives the watchdog and the camera reboots instead of retrying. So the lookup, the TCP
// connect and the handshake run as separate bounded steps with the watchdog fed between them.
#pragma once

#include <WiFiClient.h>
#include <WiFiClientSecure.h>

#include <cstdint>

#include "camcloud/upload.h"

class WifiConnection : public camcloud::Connection {
public:
    // TCP connect timeout, also the socket's send/receive timeout (seconds).
    static constexpr uint32_t kConnectTimeoutS = 5;
    // TLS handshake timeout (seconds). Worst case of the TLS step: connect + handshake + one
    // socket read the handshake loop waits for = 5 + 10 + 5 s.
    static constexpr uint32_t kHandshakeTimeoutS = 10;

    // Plain HTTP.
    WifiConnection(WiFiClient& client, uint32_t read_timeout_ms)
        : client_(client), tls_(nullptr), root_ca_(nullptr), read_timeout_ms_(read_timeout_ms) {}
    // HTTPS: the certificate must chain to root_ca and name the host.
    WifiConnection(WiFiClientSecure& client, const char* root_ca, uint32_t read_timeout_ms)
        : client_(client), tls_(&client), root_ca_(root_ca), read_timeout_ms_(read_timeout_ms) {}

    bool connect(const char* host, uint16_t port) override;
    long write(const uint8_t* data, size_t len) override;
    long read(uint8_t* data, size_t len) override;
    void close() override;

private:
    WiFiClient& client_;
    WiFiClientSecure* tls_;
    const char* root_ca_;
    uint32_t read_timeout_ms_;
};
