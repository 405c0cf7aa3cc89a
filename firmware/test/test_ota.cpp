// Signed firmware updates: the documented test vector, the version order, the offer checks, and
// the download into a file standing in for the OTA partition (good, truncated, bad SHA-256, bad
// signature, power lost mid-write, older offered, forced downgrade).
#include <doctest/doctest.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "camcloud/ota.h"
#include "fakes.h"
#include "file_flash.h"

using namespace camcloud;

namespace {

// docs/device-management.md "Test vector".
const char kVectorPublicKey[] = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const char kVectorSha256[] = "e6719e27b47422816e72acc3c385071786372ccad6a4b0be6e61666a4f64ece5";
const char kVectorSignature[] =
    "961853a1678f4739073ba81a8437158c3d208b242fd07737d3c4d1b212afb5e1"
    "f435b840e497e72a7bdcb042c8e03a260442a822ed06feee19b432b371a04c01";

std::string vector_image() {
    std::string image = "\xE9";
    for (int i = 0; i < 3; ++i) image += "camcloud test image\n";
    return image;
}

void hex_to_bytes(const char* hex, uint8_t* out, size_t len) {
    for (size_t i = 0; i < len; ++i) {
        unsigned v;
        std::sscanf(hex + 2 * i, "%2x", &v);
        out[i] = static_cast<uint8_t>(v);
    }
}

std::string to_hex(const uint8_t* data, size_t len) {
    std::string out;
    char two[3];
    for (size_t i = 0; i < len; ++i) {
        std::snprintf(two, sizeof two, "%02x", data[i]);
        out += two;
    }
    return out;
}

std::string sha256_hex(const std::string& data) {
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const uint8_t*>(data.data()), data.size());
    return to_hex(digest, sizeof digest);
}

// The owner's key of the test vector (seed 00 01 .. 1f), to sign offers the vector lacks.
struct Owner {
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
    Owner() {
        REQUIRE(sodium_init() >= 0);
        uint8_t seed[crypto_sign_SEEDBYTES];
        for (size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<uint8_t>(i);
        crypto_sign_seed_keypair(public_key, secret_key, seed);
    }
    FirmwareOffer offer(const std::string& version, const std::string& image, bool force,
                        const std::string& url = "http://fw.local:9000/firmware/v/firmware.bin?sig=1") {
        FirmwareOffer o;
        o.present = true;
        std::snprintf(o.version, sizeof o.version, "%s", version.c_str());
        std::snprintf(o.url, sizeof o.url, "%s", url.c_str());
        o.size = static_cast<uint32_t>(image.size());
        std::snprintf(o.sha256, sizeof o.sha256, "%s", sha256_hex(image).c_str());
        o.force = force;
        char message[160];
        size_t len = build_signed_message(o, message, sizeof message);
        uint8_t signature[crypto_sign_BYTES];
        crypto_sign_detached(signature, nullptr, reinterpret_cast<uint8_t*>(message), len,
                             secret_key);
        std::snprintf(o.signature, sizeof o.signature, "%s",
                      to_hex(signature, sizeof signature).c_str());
        return o;
    }
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "<missing>";
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
}

// A partition file holding the running image, removed at the end.
struct Partition {
    std::string path;
    Partition() {
        char name[] = "/tmp/camcloud-ota-XXXXXX";
        int fd = mkstemp(name);
        REQUIRE(fd >= 0);
        close(fd);
        path = name;
        write_file(path, "\xE9old image");
    }
    ~Partition() {
        std::remove(path.c_str());
        std::remove((path + ".partial").c_str());
    }
};

std::string image_answer(const std::string& body, size_t announced) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
           std::to_string(announced) + "\r\n\r\n" + body;
}

// Power is cut after `after` bytes reached the flash: nothing runs after that, not even abort().
struct PowerLoss {};
class PowerCutWriter : public FlashWriter {
public:
    PowerCutWriter(FlashWriter& inner, size_t after) : inner_(inner), after_(after) {}
    bool begin(uint32_t size) override { return inner_.begin(size); }
    bool write(const uint8_t* data, size_t len) override {
        if (written_ + len > after_) {
            inner_.write(data, after_ - written_);
            throw PowerLoss{};
        }
        written_ += len;
        return inner_.write(data, len);
    }
    bool finish() override { return inner_.finish(); }
    void abort() override { inner_.abort(); }

private:
    FlashWriter& inner_;
    size_t after_;
    size_t written_ = 0;
};

std::string big_image(size_t size) {
    std::string image(size, '\0');
    image[0] = '\xE9';
    for (size_t i = 1; i < size; ++i) image[i] = static_cast<char>((i * 131u) >> 3);
    return image;
}

}  // namespace

TEST_CASE("the documented test vector verifies; any change to the signed fields does not") {
    FirmwareOffer offer;
    offer.present = true;
    std::snprintf(offer.version, sizeof offer.version, "1.2.0");
    offer.size = 61;
    std::snprintf(offer.sha256, sizeof offer.sha256, "%s", kVectorSha256);
    std::snprintf(offer.signature, sizeof offer.signature, "%s", kVectorSignature);
    uint8_t key[32];
    hex_to_bytes(kVectorPublicKey, key, sizeof key);
    char message[160];
    size_t len = build_signed_message(offer, message, sizeof message);
    CHECK(len == 91);
    CHECK(std::string(message, len) == std::string("camcloud-fw-v1\n1.2.0\n61\n") + kVectorSha256 + "\n0\n");
    CHECK(sha256_hex(vector_image()) == kVectorSha256);
    CHECK(verify_offer_signature(offer, key));
    FirmwareOffer relabelled = offer;
    std::snprintf(relabelled.version, sizeof relabelled.version, "1.3.0");
    CHECK_FALSE(verify_offer_signature(relabelled, key));
    FirmwareOffer forced = offer;
    forced.force = true;
    CHECK_FALSE(verify_offer_signature(forced, key));
    FirmwareOffer flipped = offer;
    flipped.signature[0] = '8';
    CHECK_FALSE(verify_offer_signature(flipped, key));
    FirmwareOffer not_hex = offer;
    not_hex.signature[5] = 'g';
    CHECK_FALSE(verify_offer_signature(not_hex, key));
    Owner owner;
    CHECK(to_hex(owner.public_key, 32) == kVectorPublicKey);
}

TEST_CASE("version order follows firmware_release.version_key") {
    CHECK(compare_versions("1.2.0", "1.10.0") < 0);
    CHECK(compare_versions("1.2", "1.2.0") == 0);
    CHECK(compare_versions("1.2.0-rc1", "1.2.0") < 0);
    CHECK(compare_versions("1.2.0-rc2", "1.2.0-rc10") > 0);  // ASCII
    CHECK(compare_versions("1.2.0+abc", "1.2.0+def") == 0);
    CHECK(compare_versions("2", "1.99.99.99") > 0);
    CHECK(is_valid_version("123456789.0.0.1-beta.2+build.7"));
    CHECK_FALSE(is_valid_version("1234567890"));
    CHECK_FALSE(is_valid_version("1.2.3.4.5"));
    CHECK_FALSE(is_valid_version("v1.2"));
    CHECK_FALSE(is_valid_version("1.2-"));
    CHECK_FALSE(is_valid_version(""));
}

TEST_CASE("offer checks: older or same ignored unless forced, bad signature and too big refused") {
    Owner owner;
    std::string image = vector_image();
    CHECK(check_offer(owner.offer("1.2.0", image, false), "1.0.0", owner.public_key, 4096) ==
          OfferCheck::install);
    CHECK(check_offer(owner.offer("0.9.0", image, false), "1.0.0", owner.public_key, 4096) ==
          OfferCheck::not_newer);
    CHECK(check_offer(owner.offer("1.0.0", image, false), "1.0.0", owner.public_key, 4096) ==
          OfferCheck::not_newer);
    CHECK(check_offer(owner.offer("0.9.0", image, true), "1.0.0", owner.public_key, 4096) ==
          OfferCheck::install);  // a forced downgrade
    CHECK(check_offer(owner.offer("1.0.0", image, true), "1.0.0", owner.public_key, 4096) ==
          OfferCheck::not_newer);  // never the same one again
    FirmwareOffer unforced = owner.offer("0.9.0", image, true);
    unforced.force = false;  // someone turned a forced release into an ordinary one
    CHECK(check_offer(unforced, "0.8.0", owner.public_key, 4096) == OfferCheck::bad_signature);
    uint8_t other_key[32];
    std::memcpy(other_key, owner.public_key, 32);
    other_key[0] ^= 1;
    CHECK(check_offer(owner.offer("1.2.0", image, false), "1.0.0", other_key, 4096) ==
          OfferCheck::bad_signature);
    CHECK(check_offer(owner.offer("1.2.0", image, false), "1.0.0", owner.public_key, 60) ==
          OfferCheck::too_big);
    FirmwareOffer bad = owner.offer("1.2.0", image, false);
    std::snprintf(bad.version, sizeof bad.version, "latest");
    CHECK(check_offer(bad, "1.0.0", owner.public_key, 4096) == OfferCheck::bad_offer);
    CHECK(std::string(offer_check_result(OfferCheck::bad_signature)) == "failed:signature");
    CHECK(std::string(offer_check_result(OfferCheck::too_big)) == "failed:too-big");
}

TEST_CASE("a good image is streamed into the partition and becomes the boot image") {
    Owner owner;
    Partition partition;
    std::string image = big_image(100 * 1024);
    FirmwareOffer offer = owner.offer("1.2.0", image, false);
    camcloud_test::ScriptedConnection connection;
    connection.response = image_answer(image, image.size());
    connection.read_piece = 1460;
    FileFlashWriter writer(partition.path);
    OtaInstaller installer;
    OtaResult result = installer.install(connection, offer, writer);
    CHECK(result.ok);
    CHECK(std::string(result.result) == "ok");
    CHECK(result.received == image.size());
    CHECK(read_file(partition.path) == image);
    CHECK(read_file(partition.path + ".partial") == "<missing>");
    CHECK(connection.connected_host == "fw.local");
    CHECK(connection.connected_port == 9000);
    CHECK(connection.sent.rfind("GET /firmware/v/firmware.bin?sig=1 HTTP/1.1\r\nHost: fw.local:9000\r\n", 0) == 0);
}

TEST_CASE("a presigned URL of 1000 characters goes out whole in the request line") {
    Owner owner;
    Partition partition;
    std::string image = vector_image();
    std::string path = "/firmware/1.2.0/firmware.bin?X-Amz-Signature=" + std::string(1000 - 60, 's');
    std::string url = "https://s3.example.com" + path;
    FirmwareOffer offer = owner.offer("1.2.0", image, false, url);
    camcloud_test::ScriptedConnection connection;
    connection.response = image_answer(image, image.size());
    FileFlashWriter writer(partition.path);
    OtaInstaller installer;
    OtaResult result = installer.install(connection, offer, writer);
    CHECK(result.ok);
    CHECK(connection.connected_port == 443);
    CHECK(connection.sent.find("GET " + path + " HTTP/1.1\r\nHost: s3.example.com\r\n") == 0);
}

TEST_CASE("regression: a truncated image is refused and the old image still boots") {
    Owner owner;
    Partition partition;
    std::string image = big_image(64 * 1024);
    FirmwareOffer offer = owner.offer("1.2.0", image, false);
    camcloud_test::ScriptedConnection connection;
    connection.response = image_answer(image.substr(0, 40000), image.size());  // then closes
    FileFlashWriter writer(partition.path);
    OtaInstaller installer;
    OtaResult result = installer.install(connection, offer, writer);
    CHECK_FALSE(result.ok);
    CHECK(std::string(result.result) == "failed:size");
    CHECK(result.received == 40000);
    CHECK(read_file(partition.path) == "\xE9old image");
    CHECK(read_file(partition.path + ".partial") == "<missing>");
}

TEST_CASE("regression: an image whose SHA-256 differs from the signed one never boots") {
    Owner owner;
    Partition partition;
    std::string image = big_image(8192);
    FirmwareOffer offer = owner.offer("1.2.0", image, false);
    std::string tampered = image;
    tampered[5000] ^= 0x01;  // same size, one bit off (a swapped object in the bucket)
    camcloud_test::ScriptedConnection connection;
    connection.response = image_answer(tampered, tampered.size());
    FileFlashWriter writer(partition.path);
    OtaInstaller installer;
    OtaResult result = installer.install(connection, offer, writer);
    CHECK_FALSE(result.ok);
    CHECK(std::string(result.result) == "failed:sha256");
    CHECK(read_file(partition.path) == "\xE9old image");
}

TEST_CASE("more bytes than signed for, a wrong length or an HTTP error are refused") {
    Owner owner;
    Partition partition;
    std::string image = vector_image();
    FirmwareOffer offer = owner.offer("1.2.0", image, false);
    OtaInstaller installer;
    {
        camcloud_test::ScriptedConnection connection;  // no Content-Length: until the close
        connection.response = "HTTP/1.1 200 OK\r\n\r\n" + image + "extra";
        FileFlashWriter writer(partition.path);
        CHECK(std::string(installer.install(connection, offer, writer).result) == "failed:size");
    }
    {
        camcloud_test::ScriptedConnection connection;
        connection.response = image_answer(image + "x", image.size() + 1);
        FileFlashWriter writer(partition.path);
        CHECK(std::string(installer.install(connection, offer, writer).result) == "failed:size");
    }
    {
        camcloud_test::ScriptedConnection connection;
        connection.response = "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nexpired!!";
        FileFlashWriter writer(partition.path);
        OtaResult result = installer.install(connection, offer, writer);
        CHECK(std::string(result.result) == "failed:http-403");
        CHECK(result.status == 403);
    }
    {
        camcloud_test::ScriptedConnection connection;
        connection.refuse_connect = true;
        FileFlashWriter writer(partition.path);
        CHECK(std::string(installer.install(connection, offer, writer).result) == "failed:download");
    }
    CHECK(read_file(partition.path) == "\xE9old image");
}

TEST_CASE("regression: power lost mid-write leaves the old image as the boot image") {
    Owner owner;
    Partition partition;
    std::string image = big_image(256 * 1024);
    FirmwareOffer offer = owner.offer("1.2.0", image, false);
    {
        camcloud_test::ScriptedConnection connection;
        connection.response = image_answer(image, image.size());
        connection.read_piece = 1460;
        FileFlashWriter file(partition.path);
        PowerCutWriter writer(file, 100 * 1024);
        OtaInstaller installer;
        CHECK_THROWS_AS(installer.install(connection, offer, writer), PowerLoss);
    }
    // Power back: the boot image is the old one; the half-written partition is just data.
    CHECK(read_file(partition.path) == "\xE9old image");
    CHECK(read_file(partition.path + ".partial").size() == 100 * 1024);
    // The next offer starts over and succeeds.
    camcloud_test::ScriptedConnection connection;
    connection.response = image_answer(image, image.size());
    FileFlashWriter writer(partition.path);
    OtaInstaller installer;
    CHECK(installer.install(connection, offer, writer).ok);
    CHECK(read_file(partition.path) == image);
}
