// Declaration-only host stand-in for ESP-IDF esp_timer.h.
#pragma once

#include <cstdint>

int64_t esp_timer_get_time(void);
