// Declaration-only host stand-in for arduino-esp32 2.0.x Preferences.h (NVS key-value store).
#pragma once

#include "Arduino.h"

class Preferences {
public:
    Preferences();
    ~Preferences();
    bool begin(const char* name, bool readOnly = false, const char* partition_label = NULL);
    void end();
    size_t putUInt(const char* key, uint32_t value);
    uint32_t getUInt(const char* key, uint32_t defaultValue = 0);
    bool remove(const char* key);
    size_t putString(const char* key, const char* value);
    size_t putBytes(const char* key, const void* value, size_t len);
    size_t getString(const char* key, char* value, size_t maxLen);
    size_t getBytesLength(const char* key);
    size_t getBytes(const char* key, void* buf, size_t maxLen);
};
