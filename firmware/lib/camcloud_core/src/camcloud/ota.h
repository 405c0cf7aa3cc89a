// Signed firmware updates (docs/device-management.md, "Signed firmware"): the version order, the
// Ed25519 check of an offer before anything is downloaded, and the download streamed through one
// small buffer into a flash writer while SHA-256 and the size are checked; the writer switches
// the boot image only after both match (portable: no Arduino.h, no heap; libsodium, which the
// ESP-IDF ships as a component, on both the camera and the host).
#pragma once

#include <cstddef>
#include <cstdint>

#include "camcloud/device_state.h"
#include "camcloud/upload.h"

namespace camcloud {

constexpr size_t kOtaPublicKeySize = 32;

// Whether text is a version of the form N[.N[.N[.N]]][-pre][+build] (at most 32 characters).
bool is_valid_version(const char* text);
// <0, 0, >0 as a is older than, the same as, newer than b (firmware_release.version_key):
// numeric parts compared as numbers, missing parts are 0, a -pre is older than none, two -pre
// compare as ASCII, +build is ignored. Callers check is_valid_version first.
int compare_versions(const char* a, const char* b);

// The signed message "camcloud-fw-v1\n{version}\n{size}\n{sha256}\n{force}\n"; its length, 0
// when out is too small.
size_t build_signed_message(const FirmwareOffer& offer, char* out, size_t out_size);
// Ed25519 (RFC 8032, pure) over that message against the built-in public key.
bool verify_offer_signature(const FirmwareOffer& offer, const uint8_t public_key[kOtaPublicKeySize]);

enum class OfferCheck : uint8_t {
    install,        // newer (or forced), signed by our key, fits
    not_newer,      // ignored: same or older and not forced
    bad_offer,      // malformed version or fields: failed:offer
    bad_signature,  // failed:signature
    too_big,        // failed:too-big
};
// The checks before a download, in the documented order. running_version: what this camera runs.
OfferCheck check_offer(const FirmwareOffer& offer, const char* running_version,
                       const uint8_t public_key[kOtaPublicKeySize], uint32_t partition_size);
// "failed:signature" ... for a refused check; nullptr for install and not_newer.
const char* offer_check_result(OfferCheck check);

// The inactive OTA partition: arduino-esp32's Update on the camera, a file on the host.
class FlashWriter {
public:
    virtual ~FlashWriter() = default;
    // Prepares for an image of exactly size bytes (erases as needed).
    virtual bool begin(uint32_t size) = 0;
    virtual bool write(const uint8_t* data, size_t len) = 0;
    // The whole image is written and verified: make it the one the next boot starts.
    virtual bool finish() = 0;
    // Forget the partial image; the running one stays the boot image.
    virtual void abort() = 0;
};

// An http(s) URL of up to kOfferUrlCapacity characters: the host part copied, the path pointed at.
struct OfferUrl {
    bool tls = false;
    char host[128] = {0};
    uint16_t port = 0;
    bool default_port = true;
    const char* path = nullptr;  // into the offer's url: "/firmware/1.2.0/firmware.bin?X-Amz-..."
};
bool parse_offer_url(const char* url, OfferUrl& out);

struct OtaResult {
    bool ok = false;
    char result[48] = {0};  // "ok" or "failed:<reason>", what X-Ota-Result reports
    uint32_t received = 0;  // image bytes taken from the connection
    int status = 0;         // HTTP status of the download
};

class OtaInstaller {
public:
    // The one buffer a download owns: the socket is read through it into the flash writer.
    static constexpr size_t kBufferSize = 1024;

    // Downloads offer.url (already checked with check_offer) through connection into writer:
    // Content and length must be exactly offer.size bytes with offer.sha256, else the writer is
    // aborted and the running image stays the boot image.
    OtaResult install(Connection& connection, const FirmwareOffer& offer, FlashWriter& writer,
                      const char* user_agent = "camcloud-firmware");

private:
    bool write_all(Connection& connection, const char* text, size_t len);
    uint8_t io_[kBufferSize];
};

}  // namespace camcloud
