// WiFi station mode that reconnects in the background with backoff, never blocking the loop.
#pragma once

#include <cstdint>

#include "camcloud/retry.h"

class WifiLink {
public:
    // Association plus DHCP takes 3-6 s: a retry sooner than this would disconnect a join that
    // is about to succeed, and start it over.
    static constexpr uint32_t kJoinWindowMs = 8000;

    WifiLink(const char* ssid, const char* password, const char* hostname);
    // Puts the radio in station mode and starts the first connection attempt.
    void begin();
    // Call from loop(): notices drops and starts a new attempt when its backoff has passed.
    void poll(uint32_t now_ms);
    bool connected() const { return connected_; }
    // True once, right after a (re)connection: the caller starts NTP then.
    bool take_connected_event();

private:
    void start_attempt(uint32_t now_ms);

    const char* ssid_;
    const char* password_;
    const char* hostname_;
    camcloud::RetryPolicy policy_;
    uint32_t attempt_ = 0;
    uint32_t next_attempt_ms_ = 0;
    bool connected_ = false;
    bool connected_event_ = false;
};
