// Frames waiting for a retry, kept oldest first in one fixed arena (PSRAM on the camera)
// (portable: no Arduino.h, no heap).
#pragma once

#include <cstddef>
#include <cstdint>

#include "camcloud/capture_id.h"
#include "camcloud/wall_clock.h"

namespace camcloud {

struct StoredFrame {
    char capture_id[kCaptureIdSize];
    CaptureTime time;     // when it was taken; its X-Captured-At, fixed at the first attempt
    uint32_t offset;      // into the arena
    uint32_t size;
    uint32_t attempts;    // upload attempts so far
};

// PSRAM left to the rest of the firmware: with PSRAM, arduino-esp32 places allocations above
// 4 KiB there (mbedTLS's record buffers among them).
constexpr uint32_t kPsramHeadroomBytes = 256UL * 1024UL;
// A ring smaller than this holds no QXGA frame: not worth the PSRAM.
constexpr uint32_t kMinRingBytes = 256UL * 1024UL;

// The ring size for a board whose largest free PSRAM block is `largest_free_block` bytes: what
// was configured (`wanted_bytes`), or less when the part is smaller (a 2 MB PSRAM has less than
// 2 MiB free, so a 2 MiB ring would never be allocated), keeping kPsramHeadroomBytes free.
// 0 when no useful ring fits.
uint32_t ring_bytes_for(uint32_t largest_free_block, uint32_t wanted_bytes);

class FrameRing {
public:
    static constexpr size_t kMaxFrames = 16;

    // arena may be null (no PSRAM): then nothing can be kept and every reserve() fails.
    FrameRing(uint8_t* arena, uint32_t arena_size) : arena_(arena), arena_size_(arena_size) {}

    // Makes room for a frame of `size` bytes (taken at millis() = captured_ms; captured_at is
    // the clock's Unix time then, -1 when untrusted), evicting the oldest frames when the arena
    // or the table is full (*evicted counts them: they are lost), and returns where to copy the
    // frame, or null when it can never fit. Nothing is visible until commit().
    uint8_t* reserve(uint32_t size, const char* capture_id, int64_t captured_at, uint32_t* evicted,
                     uint32_t captured_ms = 0);
    // Makes the reserved frame the newest one.
    void commit();

    size_t count() const { return count_; }
    bool empty() const { return count_ == 0; }
    // The frame to send next (the oldest), null when empty.
    StoredFrame* oldest();
    const uint8_t* data(const StoredFrame& frame) const { return arena_ + frame.offset; }
    // Forgets the oldest frame (uploaded, or given up on).
    void pop_oldest();
    uint32_t bytes_used() const;

private:
    StoredFrame& at(size_t i) { return frames_[(head_ + i) % kMaxFrames]; }
    const StoredFrame& at(size_t i) const { return frames_[(head_ + i) % kMaxFrames]; }
    bool overlaps_any(uint32_t offset, uint32_t size) const;

    uint8_t* arena_;
    uint32_t arena_size_;
    StoredFrame frames_[kMaxFrames] = {};
    size_t head_ = 0;   // index of the oldest
    size_t count_ = 0;
    bool reserved_ = false;
    StoredFrame pending_ = {};
};

}  // namespace camcloud
