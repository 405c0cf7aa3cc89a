#include "wifi_link.h"

#include <Arduino.h>
#include <WiFi.h>
#include <esp_system.h>

#include "app_config.h"

WifiLink::WifiLink(const char* ssid, const char* password, const char* hostname)
    : ssid_(ssid), password_(password), hostname_(hostname) {
    // WiFi.begin() returns at once and a join takes a few seconds: a retry comes no sooner than
    // kJoinWindowMs, later ones back off up to a minute, so a dead access point does not keep
    // the radio (and the battery) busy.
    policy_.base_ms = 8000;
    policy_.cap_ms = 60000;
}

void WifiLink::begin() {
    // arduino-esp32 2.0.x applies the hostname when WiFi.mode() starts the station interface:
    // set after it, DHCP would still announce "esp32-arduino".
    WiFi.setHostname(hostname_);
    WiFi.mode(WIFI_STA);
    // Our own schedule replaces the core's immediate auto-reconnect loop.
    WiFi.setAutoReconnect(false);
    start_attempt(millis());
}

void WifiLink::start_attempt(uint32_t now_ms) {
    uint32_t wait_ms = camcloud::backoff_delay_ms(policy_, attempt_, esp_random());
    if (wait_ms < kJoinWindowMs) wait_ms = kJoinWindowMs;
    CAMCLOUD_LOG("wifi: connecting to '%s' (attempt %lu, next try in %lu s)", ssid_,
                 static_cast<unsigned long>(attempt_ + 1), static_cast<unsigned long>(wait_ms / 1000));
    // Only a failed join needs tearing down; the first begin() has nothing to disconnect.
    if (attempt_ > 0) WiFi.disconnect();
    WiFi.begin(ssid_, password_);
    ++attempt_;
    next_attempt_ms_ = now_ms + wait_ms;
}

void WifiLink::poll(uint32_t now_ms) {
    bool up = WiFi.status() == WL_CONNECTED;
    if (up && !connected_) {
        CAMCLOUD_LOG("wifi: connected, ip %s, rssi %d dBm", WiFi.localIP().toString().c_str(),
                     static_cast<int>(WiFi.RSSI()));
        attempt_ = 0;
        connected_event_ = true;
    } else if (!up && connected_) {
        CAMCLOUD_LOG("wifi: connection lost");
        next_attempt_ms_ = now_ms;  // the first retry after a drop is immediate
    }
    connected_ = up;
    if (!up && static_cast<int32_t>(now_ms - next_attempt_ms_) >= 0) start_attempt(now_ms);
}

bool WifiLink::take_connected_event() {
    bool event = connected_event_;
    connected_event_ = false;
    return event;
}
