// config.h of the mains-powered camera the whole-firmware host tests run (test/firmware/mains).
#pragma once

#define CAMCLOUD_WIFI_SSID "garden"
#define CAMCLOUD_WIFI_PASSWORD "secret"
#define CAMCLOUD_UPLOAD_URL "http://192.168.1.10:8080/upload"
#define CAMCLOUD_DEVICE_KEY "k3y"
#define CAMCLOUD_DEVICE_ID ""
#define CAMCLOUD_ROOT_CA ""
#define CAMCLOUD_CAPTURE_INTERVAL_S 60
#define CAMCLOUD_IMAGE_MODE CAM_IMAGE_MODE_QXGA
#define CAMCLOUD_WARMUP_FRAMES 3
#define CAMCLOUD_TRIGGER_HTTP_PORT 80
#define CAMCLOUD_PIR_PIN -1
#define CAMCLOUD_TRIGGER_MIN_GAP_S 5
#define CAMCLOUD_CAMERA_CS_PIN 10
#define CAMCLOUD_PSRAM_RING_BYTES (2UL * 1024UL * 1024UL)
#define CAMCLOUD_WATCHDOG_S 30
#define CAMCLOUD_DEEP_SLEEP_S 0
#define CAMCLOUD_AWAKE_BUDGET_S 45
#define CAMCLOUD_NTP_SERVER "pool.ntp.org"
#define CAMCLOUD_HOSTNAME "camcloud-cam"
// The test vector's key (docs/device-management.md): offers signed with its seed 00..1f verify.
#define CAMCLOUD_OTA_PUBLIC_KEY { \
    0x03, 0xa1, 0x07, 0xbf, 0xf3, 0xce, 0x10, 0xbe, \
    0x1d, 0x70, 0xdd, 0x18, 0xe7, 0x4b, 0xc0, 0x99, \
    0x67, 0xe4, 0xd6, 0x30, 0x9b, 0xa5, 0x0d, 0x5f, \
    0x1d, 0xdc, 0x86, 0x64, 0x12, 0x55, 0x31, 0xb8 }
