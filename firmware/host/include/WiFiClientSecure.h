// Declaration-only host stand-in for arduino-esp32 2.0.x WiFiClientSecure.h.
#pragma once

#include "Arduino.h"
#include "WiFi.h"

class WiFiClientSecure : public WiFiClient {
public:
    WiFiClientSecure();
    ~WiFiClientSecure();
    int connect(IPAddress ip, uint16_t port) override;
    int connect(IPAddress ip, uint16_t port, int32_t timeout);
    int connect(const char* host, uint16_t port) override;
    int connect(const char* host, uint16_t port, int32_t timeout);
    // Connects to an address already resolved, still sending `host` as SNI and checking the
    // certificate against it.
    int connect(IPAddress ip, uint16_t port, const char* host, const char* CA_cert,
                const char* cert, const char* private_key);
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
    // Seconds (default 120).
    void setHandshakeTimeout(unsigned long handshake_timeout);
    // Seconds: the TCP connect timeout and the socket's send/receive timeout (default 30).
    int setTimeout(uint32_t seconds);
};
