// Capture ids and the boot identity they are made of (portable: no Arduino.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace camcloud {

// X-Capture-Id is [A-Za-z0-9-]{1,64}; 64 characters plus the terminator.
constexpr size_t kCaptureIdSize = 65;

// Writes "<mac as 12 hex digits>-<boot count>-<sequence>" into out; returns its length, 0 if
// out is too small. The same inputs always give the same id, so a retry that reuses the stored
// id lands on the same key in S3.
size_t format_capture_id(const uint8_t mac[6], uint32_t boot_count, uint32_t sequence, char* out,
                         size_t out_size);

// True when id matches the protocol's [A-Za-z0-9-]{1,64}.
bool is_valid_capture_id(const char* id);

// Where this boot's capture ids start.
struct BootIdentity {
    uint32_t boot_count;     // persisted in NVS; goes up on every cold start
    uint32_t next_sequence;  // number of the next capture within this boot count
    bool persist_boot_count; // true when the NVS value must be written back
};

// A deep-sleep wake keeps the boot count and continues the sequence kept in RTC memory (no flash
// write per wake); any other start bumps the boot count and restarts the sequence, so ids never
// repeat even when RTC memory is lost.
BootIdentity resume_boot(bool woke_from_deep_sleep, bool rtc_memory_valid, uint32_t stored_boot_count,
                         uint32_t rtc_next_sequence);

}  // namespace camcloud
