#include "camcloud/frame_ring.h"

#include <cstring>

namespace camcloud {

bool FrameRing::overlaps_any(uint32_t offset, uint32_t size) const {
    for (size_t i = 0; i < count_; ++i) {
        const StoredFrame& f = at(i);
        if (offset < f.offset + f.size && f.offset < offset + size) return true;
    }
    return false;
}

uint32_t ring_bytes_for(uint32_t largest_free_block, uint32_t wanted_bytes) {
    if (largest_free_block <= kPsramHeadroomBytes) return 0;
    uint32_t room = largest_free_block - kPsramHeadroomBytes;
    uint32_t size = wanted_bytes < room ? wanted_bytes : room;
    return size >= kMinRingBytes ? size : 0;
}

uint8_t* FrameRing::reserve(uint32_t size, const char* capture_id, int64_t captured_at,
                            uint32_t* evicted, uint32_t captured_ms) {
    reserved_ = false;
    if (arena_ == nullptr || size == 0 || size > arena_size_ || !is_valid_capture_id(capture_id)) {
        return nullptr;
    }
    uint32_t lost = 0;
    uint32_t offset = 0;
    while (true) {
        if (count_ == 0) {
            offset = 0;
            break;
        }
        // Frames sit in the arena in arrival order: the next one goes after the newest, or at the
        // start when it does not fit before the end.
        const StoredFrame& newest = at(count_ - 1);
        offset = newest.offset + newest.size;
        if (offset + size > arena_size_ || offset + size < offset) offset = 0;
        if (count_ < kMaxFrames && !overlaps_any(offset, size)) break;
        pop_oldest();
        ++lost;
    }
    if (evicted != nullptr) *evicted = lost;
    pending_ = StoredFrame{};
    std::strncpy(pending_.capture_id, capture_id, sizeof pending_.capture_id - 1);
    pending_.time = CaptureTime(captured_at, captured_ms);
    pending_.offset = offset;
    pending_.size = size;
    reserved_ = true;
    return arena_ + offset;
}

void FrameRing::commit() {
    if (!reserved_) return;
    frames_[(head_ + count_) % kMaxFrames] = pending_;
    ++count_;
    reserved_ = false;
}

StoredFrame* FrameRing::oldest() { return count_ == 0 ? nullptr : &at(0); }

void FrameRing::pop_oldest() {
    if (count_ == 0) return;
    head_ = (head_ + 1) % kMaxFrames;
    --count_;
}

uint32_t FrameRing::bytes_used() const {
    uint32_t total = 0;
    for (size_t i = 0; i < count_; ++i) total += at(i).size;
    return total;
}

}  // namespace camcloud
