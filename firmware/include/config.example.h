// camcloud camera configuration. Copy this file to include/config.h (git-ignored) and fill it
// in; the build refuses to start without config.h, so a device key never lands in git.
#pragma once

// ---- network ----------------------------------------------------------------------------------
#define CAMCLOUD_WIFI_SSID "your-wifi"
#define CAMCLOUD_WIFI_PASSWORD "your-wifi-password"
// The ingest: `make run` prints it as "upload" (http://<your computer's LAN address>:8080/upload),
// the AWS deployment as https://<elastic ip or name>/upload.
#define CAMCLOUD_UPLOAD_URL "http://192.168.1.10:8080/upload"
// Shown once by `camcloud devices add <name>` (and by `make run` for demo-cam).
#define CAMCLOUD_DEVICE_KEY "paste-the-device-key-here"
// Optional: the device id; the ingest checks it matches the key. "" leaves X-Device-Id out.
#define CAMCLOUD_DEVICE_ID ""

// For https:// URLs: the root CA that signed the ingest's certificate, in PEM. The camera trusts
// this one root and nothing else; with an https:// URL and no CA it refuses to upload.
// Let's Encrypt certificates chain to ISRG Root X1 (https://letsencrypt.org/certificates/).
// Paste the PEM as adjacent C strings, one per PEM line, each ending in \n, and a backslash at
// the end of every line of the #define but the last (README: "The root CA"):
//   "-----BEGIN CERTIFICATE-----\n"
//   "MIIFazCCA1OgAwIBAgIRAIIQz7DSQONZRGPgu2OCiwAwDQYJKoZIhvcNAQELBQAw\n"
//   ...
//   "-----END CERTIFICATE-----\n"
#define CAMCLOUD_ROOT_CA ""

// ---- remote settings and signed updates (docs/device-management.md) ---------------------------
// The settings below are the defaults; the owner's settings from the gallery or
// `camcloud devices config` replace them and are kept in flash.
#define CAMCLOUD_CHECKIN_S 60            // while awake, ask the ingest for new settings this often
// Ed25519 public key that firmware updates must be signed with. `camcloud firmware keygen`
// prints this #define; paste it here. Without it the camera refuses every update
// (X-Ota-Result: failed:no-key).
// It looks like this (without the leading //; each line but the last ends in a backslash):
//   #define CAMCLOUD_OTA_PUBLIC_KEY {
//       0x1f, 0x2e, ... 8 bytes per row, 4 rows ... }
// Optional root CA for https:// firmware downloads (S3: Amazon Root CA 1). "" accepts any
// certificate for the download: the image itself is checked against the key above.
#define CAMCLOUD_OTA_ROOT_CA ""

// ---- captures ---------------------------------------------------------------------------------
#define CAMCLOUD_CAPTURE_INTERVAL_S 300  // 0: only on a trigger
#define CAMCLOUD_IMAGE_MODE CAM_IMAGE_MODE_QXGA  // 2048x1536, the 3MP sensor's JPEG sweet spot
#define CAMCLOUD_WARMUP_FRAMES 3         // discarded after power-up while auto exposure settles
#define CAMCLOUD_TRIGGER_HTTP_PORT 80    // GET/POST http://<camera>/capture; 0: no local server
#define CAMCLOUD_PIR_PIN -1              // GPIO of a PIR sensor's output (rising edge); -1: none
#define CAMCLOUD_TRIGGER_MIN_GAP_S 5     // triggers closer together than this are merged

// ---- hardware ---------------------------------------------------------------------------------
// Chip select of the Arducam Mega; SCK/MISO/MOSI are the board's default SPI pins (README).
// platformio.ini sets it for the XIAO ESP32S3 (GPIO2, pin D1).
#ifndef CAMCLOUD_CAMERA_CS_PIN
#if defined(CONFIG_IDF_TARGET_ESP32S3)
#define CAMCLOUD_CAMERA_CS_PIN 10  // ESP32-S3-DevKitC-1
#else
#define CAMCLOUD_CAMERA_CS_PIN 5   // ESP32 DevKitC / WROVER
#endif
#endif

// ---- reliability and power --------------------------------------------------------------------
#define CAMCLOUD_PSRAM_RING_BYTES (2UL * 1024UL * 1024UL)  // failed frames kept for retry (PSRAM)
#define CAMCLOUD_WATCHDOG_S 30           // reboot when the loop stalls this long
#define CAMCLOUD_DEEP_SLEEP_S 0          // > 0: battery mode, sleep this long between captures
#define CAMCLOUD_AWAKE_BUDGET_S 45       // battery mode: longest time awake per wake-up
#define CAMCLOUD_NTP_SERVER "pool.ntp.org"
#define CAMCLOUD_HOSTNAME "camcloud-cam"
