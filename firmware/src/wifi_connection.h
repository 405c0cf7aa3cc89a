// camcloud::Connection over a WiFiClient (plain) or WiFiClientSecure (TLS with a pinned root CA).
#pragma once

#include <WiFiClient.h>

#include <cstdint>

#include "camcloud/upload.h"

class WifiConnection : public camcloud::Connection {
public:
    WifiConnection(WiFiClient& client, uint32_t read_timeout_ms)
        : client_(client), read_timeout_ms_(read_timeout_ms) {}

    bool connect(const char* host, uint16_t port) override;
    long write(const uint8_t* data, size_t len) override;
    long read(uint8_t* data, size_t len) override;
    void close() override;

private:
    WiFiClient& client_;
    uint32_t read_timeout_ms_;
};
