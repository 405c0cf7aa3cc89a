// Declaration-only host stand-in for arduino-esp32 2.0.x WiFi.h (station mode).
#pragma once

#include "Arduino.h"
#include "WiFiClient.h"

typedef enum {
    WL_NO_SHIELD = 255,
    WL_IDLE_STATUS = 0,
    WL_NO_SSID_AVAIL = 1,
    WL_SCAN_COMPLETED = 2,
    WL_CONNECTED = 3,
    WL_CONNECT_FAILED = 4,
    WL_CONNECTION_LOST = 5,
    WL_DISCONNECTED = 6,
} wl_status_t;

typedef enum {
    WIFI_MODE_NULL = 0,
    WIFI_MODE_STA,
    WIFI_MODE_AP,
    WIFI_MODE_APSTA,
} wifi_mode_t;
#define WIFI_OFF WIFI_MODE_NULL
#define WIFI_STA WIFI_MODE_STA

class WiFiGenericClass {
public:
    static bool mode(wifi_mode_t);
    bool setSleep(bool enabled);
    static bool setHostname(const char* hostname);
    static const char* getHostname();
    static int hostByName(const char* aHostname, IPAddress& aResult);
};

class WiFiSTAClass {
public:
    wl_status_t begin(const char* ssid, const char* passphrase = NULL, int32_t channel = 0,
                      const uint8_t* bssid = NULL, bool connect = true);
    bool reconnect();
    bool disconnect(bool wifioff = false, bool eraseap = false);
    bool isConnected();
    bool setAutoReconnect(bool autoReconnect);
    IPAddress localIP();
    uint8_t* macAddress(uint8_t* mac);
    int8_t RSSI();
    static wl_status_t status();
};

class WiFiClass : public WiFiGenericClass, public WiFiSTAClass {};
extern WiFiClass WiFi;
