#include "camcloud/capture_id.h"

#include <cstdio>

namespace camcloud {

size_t format_capture_id(const uint8_t mac[6], uint32_t boot_count, uint32_t sequence, char* out,
                         size_t out_size) {
    if (out == nullptr || out_size == 0) return 0;
    int n = std::snprintf(out, out_size, "%02x%02x%02x%02x%02x%02x-%lu-%lu", mac[0], mac[1], mac[2],
                          mac[3], mac[4], mac[5], static_cast<unsigned long>(boot_count),
                          static_cast<unsigned long>(sequence));
    if (n < 0 || static_cast<size_t>(n) >= out_size) {
        out[0] = '\0';
        return 0;
    }
    return static_cast<size_t>(n);
}

bool is_valid_capture_id(const char* id) {
    if (id == nullptr) return false;
    size_t n = 0;
    for (; id[n] != '\0'; ++n) {
        char c = id[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || n >= 64) return false;
    }
    return n >= 1;
}

BootIdentity resume_boot(bool woke_from_deep_sleep, bool rtc_memory_valid, uint32_t stored_boot_count,
                         uint32_t rtc_next_sequence) {
    if (woke_from_deep_sleep && rtc_memory_valid) {
        return BootIdentity{stored_boot_count, rtc_next_sequence, false};
    }
    return BootIdentity{stored_boot_count + 1, 0, true};
}

}  // namespace camcloud
