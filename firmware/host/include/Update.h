// Declaration-only host stand-in for arduino-esp32 2.0.x Update.h (libraries/Update/src/Update.h):
// the OTA writer the glue streams a firmware image into.
#pragma once

#include "Arduino.h"
#include "esp_partition.h"

#define UPDATE_ERROR_OK (0)
#define UPDATE_SIZE_UNKNOWN 0xFFFFFFFF
#define U_FLASH 0

class UpdateClass {
public:
    UpdateClass();
    // Prepares the next OTA partition for an image of `size` bytes (allocates a 4 KiB sector
    // buffer in the real library).
    bool begin(size_t size = UPDATE_SIZE_UNKNOWN, int command = U_FLASH, int ledPin = -1,
               uint8_t ledOn = LOW, const char* label = NULL);
    size_t write(uint8_t* data, size_t len);
    // Checks the image and makes its partition the boot partition (esp_ota_set_boot_partition).
    bool end(bool evenIfRemaining = false);
    void abort();
    const char* errorString();
    uint8_t getError();
    bool hasError();
};

extern UpdateClass Update;
