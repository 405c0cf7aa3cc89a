#include "ota_update.h"

#include <Arduino.h>
#include <Preferences.h>
#include <Update.h>
#include <esp_ota_ops.h>
#include <esp_task_wdt.h>

#include <cstdio>
#include <cstring>

#include "app_config.h"
#include "wifi_connection.h"

// The core's weak verifyRollbackLater() returns false, and initArduino() then confirms every new
// image at once, before it has shown it can upload. Returning true leaves the image pending, so
// the bootloader rolls back an image that never calls esp_ota_mark_app_valid_cancel_rollback().
// extern "C": the core defines it in a C file (esp32-hal-misc.c); a C++ definition would get a
// mangled name and silently not override it.
extern "C" bool verifyRollbackLater() { return true; }

namespace {

#ifdef CAMCLOUD_OTA_PUBLIC_KEY
constexpr bool kHasOtaKey = true;
const uint8_t kOtaKey[camcloud::kOtaPublicKeySize] = CAMCLOUD_OTA_PUBLIC_KEY;
#else
constexpr bool kHasOtaKey = false;
const uint8_t kOtaKey[camcloud::kOtaPublicKeySize] = {0};
#endif

constexpr uint32_t kDownloadTimeoutMs = 20000;
// Preferences key: the version an update installed, until that image confirms itself.
constexpr const char* kPendingKey = "ota_pending";

void read_pending(char* out, size_t size) {
    out[0] = '\0';
    Preferences preferences;
    if (!preferences.begin("camcloud", true)) return;
    if (preferences.getString(kPendingKey, out, size) == 0) out[0] = '\0';
    preferences.end();
}

void write_pending(const char* version) {
    Preferences preferences;
    if (!preferences.begin("camcloud", false)) return;
    if (version == nullptr) {
        preferences.remove(kPendingKey);
    } else {
        preferences.putString(kPendingKey, version);
    }
    preferences.end();
}

}  // namespace

bool UpdateFlashWriter::begin(uint32_t size) { return Update.begin(size, U_FLASH); }

bool UpdateFlashWriter::write(const uint8_t* data, size_t len) {
    esp_task_wdt_reset();  // erasing and writing 1 MB of flash takes seconds
    // Update copies from data into its own sector buffer; its signature is just not const.
    return Update.write(const_cast<uint8_t*>(data), len) == len;
}

bool UpdateFlashWriter::finish() {
    bool ok = Update.end();
    if (!ok) CAMCLOUD_LOG("ota: Update.end() refused the image: %s", Update.errorString());
    return ok;
}

void UpdateFlashWriter::abort() { Update.abort(); }

void OtaAgent::begin(camcloud::RemoteControl& remote) {
    char pending[camcloud::kVersionCapacity];
    read_pending(pending, sizeof pending);
    esp_ota_img_states_t state = ESP_OTA_IMG_UNDEFINED;
    const esp_partition_t* running = esp_ota_get_running_partition();
    if (running != nullptr && esp_ota_get_state_partition(running, &state) == ESP_OK) {
        pending_verify_ = state == ESP_OTA_IMG_PENDING_VERIFY;
    }
    if (pending[0] == '\0') return;
    if (std::strcmp(pending, CAMCLOUD_FIRMWARE_VERSION) == 0) {
        CAMCLOUD_LOG("ota: running %s, confirmed after the first successful upload", pending);
        pending_verify_ = true;
    } else {
        // The bootloader went back to this image: the new one never confirmed itself.
        CAMCLOUD_LOG("ota: %s did not confirm itself; rolled back to %s", pending,
                     CAMCLOUD_FIRMWARE_VERSION);
        remote.set_ota_result("failed:rollback");
        write_pending(nullptr);
    }
}

void OtaAgent::on_upload_stored(camcloud::RemoteControl& remote) {
    if (!pending_verify_) return;
    pending_verify_ = false;
    esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
    CAMCLOUD_LOG("ota: %s confirmed (%s)", CAMCLOUD_FIRMWARE_VERSION,
                 err == ESP_OK ? "rollback cancelled" : "no rollback pending");
    write_pending(nullptr);
    remote.set_ota_result("ok");
}

void OtaAgent::on_offer(const camcloud::FirmwareOffer& offer, camcloud::RemoteControl& remote) {
    if (offer.overflow) {
        CAMCLOUD_LOG("ota: offer refused, a field is longer than the camera takes");
        remote.set_ota_result("failed:offer");
        return;
    }
    if (!offer.present || std::strcmp(offer.version, failed_version_) == 0) return;
    if (pending_verify_) return;  // not before this image confirmed itself
    if (!kHasOtaKey) {
        CAMCLOUD_LOG("ota: %s offered, but config.h has no CAMCLOUD_OTA_PUBLIC_KEY", offer.version);
        remote.set_ota_result("failed:no-key");
        std::snprintf(failed_version_, sizeof failed_version_, "%s", offer.version);
        return;
    }
    const esp_partition_t* next = esp_ota_get_next_update_partition(nullptr);
    uint32_t capacity = next != nullptr ? next->size : 0;
    camcloud::OfferCheck check =
        camcloud::check_offer(offer, CAMCLOUD_FIRMWARE_VERSION, kOtaKey, capacity);
    if (check == camcloud::OfferCheck::not_newer) return;
    if (check != camcloud::OfferCheck::install) {
        CAMCLOUD_LOG("ota: %s refused: %s", offer.version, camcloud::offer_check_result(check));
        remote.set_ota_result(camcloud::offer_check_result(check));
        std::snprintf(failed_version_, sizeof failed_version_, "%s", offer.version);
        return;
    }
    camcloud::OfferUrl url;
    camcloud::parse_offer_url(offer.url, url);
    CAMCLOUD_LOG("ota: installing %s (%lu bytes) from %s", offer.version,
                 static_cast<unsigned long>(offer.size), url.host);
    // The image is authenticated by its Ed25519 signature and SHA-256, not by TLS: without a
    // CAMCLOUD_OTA_ROOT_CA the download takes any certificate (S3's chain is not the ingest's).
    const char* root_ca = std::strlen(CAMCLOUD_OTA_ROOT_CA) > 0 ? CAMCLOUD_OTA_ROOT_CA : nullptr;
    if (root_ca == nullptr) tls_.setInsecure();
    WifiConnection plain(plain_, kDownloadTimeoutMs);
    WifiConnection tls(tls_, root_ca, kDownloadTimeoutMs);
    camcloud::Connection& connection = url.tls ? static_cast<camcloud::Connection&>(tls) : plain;
    uint32_t started = millis();
    camcloud::OtaResult result =
        installer_.install(connection, offer, writer_, "camcloud-firmware/" CAMCLOUD_FIRMWARE_VERSION);
    CAMCLOUD_LOG("ota: %s: %s, %lu bytes in %lu ms", offer.version, result.result,
                 static_cast<unsigned long>(result.received),
                 static_cast<unsigned long>(millis() - started));
    if (!result.ok) {
        remote.set_ota_result(result.result);
        std::snprintf(failed_version_, sizeof failed_version_, "%s", offer.version);
        return;
    }
    write_pending(offer.version);
    CAMCLOUD_LOG("ota: rebooting into %s", offer.version);
    Serial.flush();
    ESP.restart();
}
