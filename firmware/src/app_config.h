// The camera's configuration: include/config.h (git-ignored), or the example for the host check.
#pragma once

#include <Arducam_Mega.h>

#if defined(CAMCLOUD_TEST_CONFIG)
#include CAMCLOUD_TEST_CONFIG  // host tests of the whole firmware (test/firmware)
#elif defined(CAMCLOUD_USE_EXAMPLE_CONFIG)
#include "config.example.h"
#elif __has_include("config.h")
#include "config.h"
#else
#error "Copy firmware/include/config.example.h to firmware/include/config.h and fill it in."
#endif

#define CAMCLOUD_FIRMWARE_VERSION "1.0.0"

#ifndef CAMCLOUD_DEVICE_ID
#define CAMCLOUD_DEVICE_ID ""
#endif
#ifndef CAMCLOUD_ROOT_CA
#define CAMCLOUD_ROOT_CA ""
#endif
#ifndef CAMCLOUD_CAPTURE_INTERVAL_S
#define CAMCLOUD_CAPTURE_INTERVAL_S 300
#endif
#ifndef CAMCLOUD_IMAGE_MODE
#define CAMCLOUD_IMAGE_MODE CAM_IMAGE_MODE_QXGA
#endif
#ifndef CAMCLOUD_WARMUP_FRAMES
#define CAMCLOUD_WARMUP_FRAMES 3
#endif
#ifndef CAMCLOUD_TRIGGER_HTTP_PORT
#define CAMCLOUD_TRIGGER_HTTP_PORT 80
#endif
#ifndef CAMCLOUD_PIR_PIN
#define CAMCLOUD_PIR_PIN -1
#endif
#ifndef CAMCLOUD_TRIGGER_MIN_GAP_S
#define CAMCLOUD_TRIGGER_MIN_GAP_S 5
#endif
#ifndef CAMCLOUD_CAMERA_CS_PIN
#define CAMCLOUD_CAMERA_CS_PIN 5
#endif
#ifndef CAMCLOUD_PSRAM_RING_BYTES
#define CAMCLOUD_PSRAM_RING_BYTES (2UL * 1024UL * 1024UL)
#endif
#ifndef CAMCLOUD_WATCHDOG_S
#define CAMCLOUD_WATCHDOG_S 30
#endif
#ifndef CAMCLOUD_DEEP_SLEEP_S
#define CAMCLOUD_DEEP_SLEEP_S 0
#endif
#ifndef CAMCLOUD_AWAKE_BUDGET_S
#define CAMCLOUD_AWAKE_BUDGET_S 45
#endif
#ifndef CAMCLOUD_NTP_SERVER
#define CAMCLOUD_NTP_SERVER "pool.ntp.org"
#endif
#ifndef CAMCLOUD_CHECKIN_S
#define CAMCLOUD_CHECKIN_S 60
#endif
// Root CA for https:// firmware downloads (S3); "" accepts any certificate there: the image is
// checked against CAMCLOUD_OTA_PUBLIC_KEY and its SHA-256 before it can boot.
#ifndef CAMCLOUD_OTA_ROOT_CA
#define CAMCLOUD_OTA_ROOT_CA ""
#endif
#ifndef CAMCLOUD_HOSTNAME
#define CAMCLOUD_HOSTNAME "camcloud-cam"
#endif

// Log lines on the serial port all start with "[camcloud] " (README: "What the serial log says").
#define CAMCLOUD_LOG(...)               \
    do {                                \
        Serial.print("[camcloud] ");    \
        Serial.printf(__VA_ARGS__);     \
        Serial.println();               \
    } while (0)
