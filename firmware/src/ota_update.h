// Signed firmware updates on the camera: arduino-esp32's Update as the core's flash writer, the
// download over WiFi, and the rollback handshake with the 2.0.x bootloader (rollback enabled in
// its sdkconfig): a new image confirms itself only after its first successful upload.
#pragma once

#include <WiFiClient.h>
#include <WiFiClientSecure.h>

#include "camcloud/ota.h"
#include "camcloud/remote.h"

// Update (libraries/Update): begin() erases the next OTA partition and takes a 4 KiB sector
// buffer from the heap; end() checks the image and switches the boot partition, which the core
// calls only after size and SHA-256 matched.
class UpdateFlashWriter : public camcloud::FlashWriter {
public:
    bool begin(uint32_t size) override;
    bool write(const uint8_t* data, size_t len) override;
    bool finish() override;
    void abort() override;
};

class OtaAgent {
public:
    // At boot: an image waiting for its confirmation, or the old image after a rollback.
    void begin(camcloud::RemoteControl& remote);
    // After every stored upload (201/200): the first one confirms a new image.
    void on_upload_stored(camcloud::RemoteControl& remote);
    // An offer from an answer: checks it, downloads and verifies it, and reboots into it. Returns
    // only when there is nothing to do or the update failed (the result goes into the report).
    void on_offer(const camcloud::FirmwareOffer& offer, camcloud::RemoteControl& remote);

private:
    bool pending_verify_ = false;
    char failed_version_[camcloud::kVersionCapacity] = {0};
    UpdateFlashWriter writer_;
    camcloud::OtaInstaller installer_;  // its 1 KiB buffer: static with the agent, not on the stack
    WiFiClient plain_;
    WiFiClientSecure tls_;
};
