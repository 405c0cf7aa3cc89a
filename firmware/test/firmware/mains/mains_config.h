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
