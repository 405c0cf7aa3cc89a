// Declaration-only host stand-in for ESP-IDF 4.4 esp_sntp.h (lwIP SNTP, which configTime starts).
#pragma once

#include <sys/time.h>

typedef enum {
    SNTP_SYNC_STATUS_RESET,
    SNTP_SYNC_STATUS_COMPLETED,
    SNTP_SYNC_STATUS_IN_PROGRESS,
} sntp_sync_status_t;

typedef void (*sntp_sync_time_cb_t)(struct timeval* tv);

// Called from lwIP's task when an SNTP reply has set the clock.
void sntp_set_time_sync_notification_cb(sntp_sync_time_cb_t callback);
sntp_sync_status_t sntp_get_sync_status(void);
