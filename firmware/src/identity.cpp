#include "identity.h"

#include <Arduino.h>
#include <Preferences.h>
#include <WiFi.h>

#include "camcloud/capture_id.h"

namespace {
// RTC slow memory survives deep sleep but not a power cut; the magic tells the two apart.
constexpr uint32_t kRtcMagic = 0xca3c10d1;
RTC_DATA_ATTR uint32_t rtc_magic = 0;
RTC_DATA_ATTR uint32_t rtc_next_sequence = 0;
}  // namespace

void Identity::begin(bool woke_from_deep_sleep) {
    WiFi.macAddress(mac_);
    Preferences preferences;
    preferences.begin("camcloud", false);
    uint32_t stored = preferences.getUInt("boot_count", 0);
    camcloud::BootIdentity boot =
        camcloud::resume_boot(woke_from_deep_sleep, rtc_magic == kRtcMagic, stored, rtc_next_sequence);
    if (boot.persist_boot_count) preferences.putUInt("boot_count", boot.boot_count);
    preferences.end();
    boot_count_ = boot.boot_count;
    next_sequence_ = boot.next_sequence;
    rtc_magic = kRtcMagic;
    rtc_next_sequence = next_sequence_;
}

size_t Identity::next_capture_id(char* out, size_t out_size) {
    size_t n = camcloud::format_capture_id(mac_, boot_count_, next_sequence_, out, out_size);
    ++next_sequence_;
    rtc_next_sequence = next_sequence_;
    return n;
}
