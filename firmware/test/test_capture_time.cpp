// A frame's X-Captured-At is fixed once and every retry sends the same one: the ingest names a
// stored capture by its time, so a retry with another time (or with one after an attempt without)
// used to be stored as a second original when the first attempt's answer was lost.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "camcloud/frame_ring.h"
#include "camcloud/upload.h"
#include "camcloud/wall_clock.h"
#include "fakes.h"

using namespace camcloud;
using camcloud_test::make_frame;
using camcloud_test::ScriptedConnection;

namespace {

constexpr int64_t kSyncUnix = 1767225606;  // 2026-01-01T00:00:06Z

// The X-Captured-At header a request carried, "" when it carried none.
std::string captured_at_header(const std::string& head) {
    const std::string name = "\r\nX-Captured-At: ";
    size_t at = head.find(name);
    if (at == std::string::npos) return "";
    size_t start = at + name.size();
    return head.substr(start, head.find("\r\n", start) - start);
}

// One upload attempt of the ring's oldest frame, as the firmware's upload_next() makes it; the
// answer is lost (the connection drops before it), so the frame stays for a retry. Returns the
// request head the ingest received.
std::string attempt_with_lost_answer(FrameRing& ring, WallClock& clock) {
    StoredFrame* frame = ring.oldest();
    REQUIRE(frame != nullptr);
    UploadUrl url;
    REQUIRE(parse_upload_url("http://10.0.0.2:8080/upload", url));
    UploadRequest request;
    request.url = &url;
    request.device_key = "key";
    request.capture_id = frame->capture_id;
    request.captured_at = frame->time.for_attempt(clock);
    request.content_length = frame->size;
    MemoryFrameSource source(ring.data(*frame), frame->size);
    ScriptedConnection connection;
    connection.drop_before_response = true;
    Uploader uploader;
    UploadResult result = uploader.upload(connection, source, request);
    CHECK(result.error != TransportError::none);  // no answer: the firmware retries
    ++frame->attempts;
    return connection.head();
}

void keep_frame(FrameRing& ring, const char* id, int64_t captured_at, uint32_t captured_ms) {
    std::vector<uint8_t> jpeg = make_frame(2000);
    uint32_t evicted = 0;
    uint8_t* slot = ring.reserve(static_cast<uint32_t>(jpeg.size()), id, captured_at, &evicted,
                                 captured_ms);
    REQUIRE(slot != nullptr);
    std::memcpy(slot, jpeg.data(), jpeg.size());
    ring.commit();
}

}  // namespace

TEST_SUITE("capture time") {
    TEST_CASE("regression: a retry after SNTP answered stays undated like its first attempt, "
              "so the ingest does not store a second original") {
        // Given a frame captured before any SNTP reply, whose first attempt goes out undated
        // (the 8 s SNTP wait ran out) and is stored by the ingest, the answer lost
        std::vector<uint8_t> arena(64 * 1024);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        WallClock clock;
        keep_frame(ring, "a0b7650c1dfe-17-0", -1, 50);
        std::string first = attempt_with_lost_answer(ring, clock);
        CHECK(captured_at_header(first).empty());
        // When SNTP answers before the retry
        clock.on_sync(12000, kSyncUnix);
        REQUIRE(clock.unix_at(50) > 0);
        std::string retry = attempt_with_lost_answer(ring, clock);
        // Then the retry is still undated: the same id and no time, which the ingest recognises
        CHECK(captured_at_header(retry).empty());
        CHECK(retry.find("\r\nX-Capture-Id: a0b7650c1dfe-17-0\r\n") != std::string::npos);
    }

    TEST_CASE("regression: a re-sync that moves the clock by a second does not change a "
              "retry's X-Captured-At") {
        // Given a frame captured before SNTP, dated from the first reply at its first attempt
        std::vector<uint8_t> arena(64 * 1024);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        WallClock clock;
        keep_frame(ring, "a0b7650c1dfe-17-1", -1, 900);
        clock.on_sync(6200, kSyncUnix);
        std::string first = attempt_with_lost_answer(ring, clock);
        CHECK(captured_at_header(first) == std::to_string(kSyncUnix - 6));  // 5.3 s before
        // When a later SNTP reply moves the anchor by a second (the capture now counts back to
        // the next whole second)
        clock.on_sync(66200, kSyncUnix + 61);
        REQUIRE(clock.unix_at(900) == kSyncUnix - 5);
        std::string retry = attempt_with_lost_answer(ring, clock);
        // Then the retry sends the first attempt's time, byte for byte
        CHECK(captured_at_header(retry) == captured_at_header(first));
    }

    TEST_CASE("a capture dated when it was taken keeps that time on every attempt") {
        // Given a frame dated at the capture by a trusted clock
        std::vector<uint8_t> arena(64 * 1024);
        FrameRing ring(arena.data(), static_cast<uint32_t>(arena.size()));
        WallClock clock;
        clock.on_sync(1000, kSyncUnix);
        keep_frame(ring, "a0b7650c1dfe-17-2", clock.unix_at(2000), 2000);
        CHECK(ring.oldest()->time.fixed());
        // When the clock is re-synced a second off between the attempts
        std::string first = attempt_with_lost_answer(ring, clock);
        clock.on_sync(30000, kSyncUnix + 30);
        std::string retry = attempt_with_lost_answer(ring, clock);
        // Then both carry the time of the capture
        CHECK(captured_at_header(first) == std::to_string(kSyncUnix + 1));
        CHECK(captured_at_header(retry) == std::to_string(kSyncUnix + 1));
    }

    TEST_CASE("an undated capture is dated at its first attempt when SNTP has answered by then") {
        // Given a frame captured before SNTP, and the reply in before its first attempt
        CaptureTime time(-1, 50);
        CHECK_FALSE(time.fixed());
        WallClock clock;
        clock.on_sync(6200, kSyncUnix);
        // Then the first attempt is dated, counted back from the reply, and stays so
        CHECK(time.for_attempt(clock) == kSyncUnix - 7);
        CHECK(time.fixed());
        clock.on_sync(7200, kSyncUnix + 3);
        CHECK(time.for_attempt(clock) == kSyncUnix - 7);
    }
}
