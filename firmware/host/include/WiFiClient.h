// Declaration-only host stand-in for arduino-esp32 2.0.x WiFiClient.h.
#pragma once

#include "Arduino.h"
#include "Client.h"

class WiFiClient : public Client {
public:
    WiFiClient();
    ~WiFiClient();
    int connect(IPAddress ip, uint16_t port) override;
    int connect(IPAddress ip, uint16_t port, int32_t timeout);
    int connect(const char* host, uint16_t port) override;
    int connect(const char* host, uint16_t port, int32_t timeout);
    size_t write(uint8_t data) override;
    size_t write(const uint8_t* buf, size_t size) override;
    int available() override;
    int read() override;
    int read(uint8_t* buf, size_t size) override;
    int peek() override;
    void flush() override;
    void stop() override;
    uint8_t connected() override;
    operator bool() override;
    int setNoDelay(bool nodelay);
    // Seconds, not milliseconds (unlike Stream::setTimeout), and not virtual: call it on the
    // WiFiClientSecure itself to reach that class's own.
    int setTimeout(uint32_t seconds);
};
