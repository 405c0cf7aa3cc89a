// The camera's identity for capture ids: MAC, a boot count kept in NVS, and a sequence kept in
// RTC memory across deep sleep.
#pragma once

#include <cstddef>
#include <cstdint>

class Identity {
public:
    // Call once WiFi is in station mode (the MAC comes from it).
    void begin(bool woke_from_deep_sleep);
    // Writes the next capture's id ("<mac>-<boot>-<sequence>") into out.
    size_t next_capture_id(char* out, size_t out_size);
    uint32_t boot_count() const { return boot_count_; }

private:
    uint8_t mac_[6] = {0};
    uint32_t boot_count_ = 0;
    uint32_t next_sequence_ = 0;
};
