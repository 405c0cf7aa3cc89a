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
};
