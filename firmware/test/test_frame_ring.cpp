// Frames kept for retry in PSRAM: a bounded ring, oldest first, losses counted.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "camcloud/frame_ring.h"

using namespace camcloud;

namespace {

// Stores a frame of `size` bytes filled with `fill`; returns how many frames were evicted.
uint32_t keep(FrameRing& ring, const char* id, uint32_t size, uint8_t fill) {
    uint32_t evicted = 0;
    uint8_t* slot = ring.reserve(size, id, 1767225600, &evicted);
    REQUIRE(slot != nullptr);
    std::memset(slot, fill, size);
    ring.commit();
    return evicted;
}

bool intact(FrameRing& ring, const StoredFrame& frame, uint8_t fill) {
    const uint8_t* data = ring.data(frame);
    for (uint32_t i = 0; i < frame.size; ++i) {
        if (data[i] != fill) return false;
    }
    return true;
}

}  // namespace

TEST_SUITE("frame_ring") {
    TEST_CASE("frames come back oldest first with their capture ids") {
        std::vector<uint8_t> arena(10000);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        CHECK(keep(ring, "c-1", 1000, 1) == 0);
        CHECK(keep(ring, "c-2", 2000, 2) == 0);
        CHECK(keep(ring, "c-3", 3000, 3) == 0);
        CHECK(ring.count() == 3);
        CHECK(ring.bytes_used() == 6000);
        for (uint8_t n = 1; n <= 3; ++n) {
            StoredFrame* oldest = ring.oldest();
            REQUIRE(oldest != nullptr);
            CHECK(std::string(oldest->capture_id) == "c-" + std::to_string(n));
            CHECK(intact(ring, *oldest, n));
            ring.pop_oldest();
        }
        CHECK(ring.empty());
        CHECK(ring.oldest() == nullptr);
    }

    TEST_CASE("when the arena is full the oldest frames are evicted and counted") {
        // Given a 10 KB arena holding three 3 KB frames
        std::vector<uint8_t> arena(10000);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        keep(ring, "c-1", 3000, 1);
        keep(ring, "c-2", 3000, 2);
        keep(ring, "c-3", 3000, 3);
        // When a fourth arrives
        uint32_t evicted = keep(ring, "c-4", 3000, 4);
        // Then the oldest is gone (lost), the rest are intact and in order
        CHECK(evicted == 1);
        CHECK(ring.count() == 3);
        const char* expected[] = {"c-2", "c-3", "c-4"};
        uint8_t fills[] = {2, 3, 4};
        for (int i = 0; i < 3; ++i) {
            CHECK(std::string(ring.oldest()->capture_id) == expected[i]);
            CHECK(intact(ring, *ring.oldest(), fills[i]));
            ring.pop_oldest();
        }
    }

    TEST_CASE("frames wrap around the arena without overwriting a kept one") {
        std::vector<uint8_t> arena(10000);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        for (uint8_t n = 1; n <= 60; ++n) {
            char id[8];
            std::snprintf(id, sizeof id, "c-%u", n);
            keep(ring, id, 1500u + n * 37u, n);
            if (n % 3 == 0 && n < 60) ring.pop_oldest();  // an upload got through now and then
            StoredFrame* oldest = ring.oldest();
            if (oldest != nullptr) CHECK(intact(ring, *oldest, static_cast<uint8_t>(std::atoi(oldest->capture_id + 2))));
        }
        // Whatever was evicted, what remains is intact and strictly in capture order
        int previous = 0;
        while (StoredFrame* f = ring.oldest()) {
            int n = std::atoi(f->capture_id + 2);
            CHECK(n > previous);
            CHECK(intact(ring, *f, static_cast<uint8_t>(n)));
            previous = n;
            ring.pop_oldest();
        }
        CHECK(previous == 60);
    }

    TEST_CASE("the frame table is bounded too") {
        std::vector<uint8_t> arena(100000);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        uint32_t lost = 0;
        for (int n = 0; n < 20; ++n) lost += keep(ring, "c", 10, 0);
        CHECK(ring.count() == FrameRing::kMaxFrames);
        CHECK(lost == 20 - FrameRing::kMaxFrames);
    }

    TEST_CASE("a frame that can never fit, or a board without PSRAM, keeps nothing") {
        std::vector<uint8_t> arena(1000);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        keep(ring, "c-1", 500, 1);
        uint32_t evicted = 99;
        CHECK(ring.reserve(1001, "c-2", -1, &evicted) == nullptr);
        CHECK(ring.count() == 1);  // the kept frame survives a frame that could not be kept
        CHECK(ring.reserve(10, "bad id", -1, &evicted) == nullptr);

        FrameRing no_psram(nullptr, 0);
        CHECK(no_psram.reserve(10, "c-1", -1, &evicted) == nullptr);
        CHECK(no_psram.empty());
    }

    TEST_CASE("a reservation that is never committed is not a frame") {
        std::vector<uint8_t> arena(1000);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        uint32_t evicted = 0;
        REQUIRE(ring.reserve(100, "c-1", -1, &evicted) != nullptr);
        CHECK(ring.empty());
        ring.commit();
        CHECK(ring.count() == 1);
        ring.commit();  // a second commit without a reservation does nothing
        CHECK(ring.count() == 1);
    }

    TEST_CASE("the ring is sized from the free PSRAM, so a 2 MB part still gets one") {
        // Given the default 2 MiB ring wanted
        const uint32_t wanted = 2UL * 1024UL * 1024UL;
        // A 2 MB PSRAM part has less than 2 MiB free: the ring shrinks to fit, leaving headroom
        uint32_t on_2mb = ring_bytes_for(2000000, wanted);
        CHECK(on_2mb == 2000000 - kPsramHeadroomBytes);
        // An 8 MB part gets what was asked for
        CHECK(ring_bytes_for(8000000, wanted) == wanted);
        // A part with almost nothing free gets no ring rather than a useless one
        CHECK(ring_bytes_for(400 * 1024, wanted) == 0);
        CHECK(ring_bytes_for(0, wanted) == 0);
    }
}
