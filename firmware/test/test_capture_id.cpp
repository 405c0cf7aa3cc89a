// Capture ids: MAC + boot count + sequence, valid for X-Capture-Id, stable across retries.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "camcloud/capture_id.h"

using namespace camcloud;

namespace {
const uint8_t kMac[6] = {0xa0, 0xb7, 0x65, 0x0c, 0x1d, 0xfe};

std::string id_for(uint32_t boot, uint32_t sequence) {
    char out[kCaptureIdSize];
    REQUIRE(format_capture_id(kMac, boot, sequence, out, sizeof out) > 0);
    return out;
}
}  // namespace

TEST_SUITE("capture_id") {
    TEST_CASE("the id is the MAC, the boot count and the sequence") {
        CHECK(id_for(17, 42) == "a0b7650c1dfe-17-42");
    }

    TEST_CASE("the same capture always gets the same id, so a retry lands on the same key") {
        // Given a capture made in boot 3 as number 9
        // When its id is formatted again for every retry
        // Then every retry sends the same id
        CHECK(id_for(3, 9) == id_for(3, 9));
    }

    TEST_CASE("different captures, boots or cameras never share an id") {
        CHECK(id_for(3, 9) != id_for(3, 10));
        CHECK(id_for(3, 9) != id_for(4, 9));
        const uint8_t other[6] = {0xa0, 0xb7, 0x65, 0x0c, 0x1d, 0xff};
        char out[kCaptureIdSize];
        format_capture_id(other, 3, 9, out, sizeof out);
        CHECK(id_for(3, 9) != out);
    }

    TEST_CASE("the longest id still matches [A-Za-z0-9-]{1,64}") {
        std::string id = id_for(0xffffffffu, 0xffffffffu);
        CHECK(id.size() <= 64);
        CHECK(is_valid_capture_id(id.c_str()));
    }

    TEST_CASE("a buffer too small gives no id rather than a cut one") {
        char out[10];
        CHECK(format_capture_id(kMac, 1, 1, out, sizeof out) == 0);
        CHECK(out[0] == '\0');
    }

    TEST_CASE("validation follows the protocol's pattern") {
        CHECK(is_valid_capture_id("a"));
        CHECK(is_valid_capture_id("AbC-09-z"));
        CHECK(is_valid_capture_id(std::string(64, 'x').c_str()));
        CHECK_FALSE(is_valid_capture_id(std::string(65, 'x').c_str()));
        CHECK_FALSE(is_valid_capture_id(""));
        CHECK_FALSE(is_valid_capture_id(nullptr));
        CHECK_FALSE(is_valid_capture_id("a_b"));
        CHECK_FALSE(is_valid_capture_id("a b"));
        CHECK_FALSE(is_valid_capture_id("a/../b"));
        CHECK_FALSE(is_valid_capture_id("a\r\nX-Evil: 1"));
    }

    TEST_CASE("a cold start bumps the boot count so ids never repeat after a power cut") {
        BootIdentity boot = resume_boot(false, true, 41, 7);
        CHECK(boot.boot_count == 42);
        CHECK(boot.next_sequence == 0);
        CHECK(boot.persist_boot_count);
    }

    TEST_CASE("a deep-sleep wake continues the sequence without writing flash") {
        BootIdentity boot = resume_boot(true, true, 42, 7);
        CHECK(boot.boot_count == 42);
        CHECK(boot.next_sequence == 7);
        CHECK_FALSE(boot.persist_boot_count);
    }

    TEST_CASE("a wake with lost RTC memory is treated as a cold start") {
        BootIdentity boot = resume_boot(true, false, 42, 7);
        CHECK(boot.boot_count == 43);
        CHECK(boot.next_sequence == 0);
        CHECK(boot.persist_boot_count);
    }
}
