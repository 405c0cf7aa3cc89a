// Declaration-only host stand-in for arduino-esp32 2.0.x WiFiClientSecure.h.
#pragma once

#include "Arduino.h"
#include "WiFi.h"

class WiFiClientSecure : public WiFiClient {
public:
    WiFiClientSecure();
    ~WiFiClientSecure();
    int connect(IPAddress ip, uint16_t port) override;
    int connect(const char* host, uint16_t port) override;
    size_t write(uint8_t data) override;
    size_t write(const uint8_t* buf, size_t size) override;
    int available() override;
    int read() override;
    int read(uint8_t* buf, size_t size) override;
    int peek() override;
    void flush() override;
    void stop() override;
    uint8_t connected() override;
    int lastError(char* buf, const size_t size);
    void setInsecure();
    void setCACert(const char* rootCA);
    void setHandshakeTimeout(unsigned long handshake_timeout);
};
