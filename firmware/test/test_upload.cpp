// The streaming upload: short writes, a camera that runs dry, dropped connections, retries.
#include <doctest/doctest.h>

#include <string>

#include "camcloud/retry.h"
#include "camcloud/upload.h"
#include "fakes.h"

using namespace camcloud;
using camcloud_test::FakeCamera;
using camcloud_test::make_frame;
using camcloud_test::ScriptedConnection;

namespace {

const char* kCreated =
    "HTTP/1.1 201 CREATED\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
    "{\"id\": \"a0b7650c1dfe-3-9\"}\n";
const char* kDuplicate =
    "HTTP/1.1 200 OK\r\nContent-Length: 45\r\n\r\n"
    "{\"id\": \"a0b7650c1dfe-3-9\", \"duplicate\": true}";
const char* kLimited =
    "HTTP/1.1 429 TOO MANY REQUESTS\r\nRetry-After: 4\r\nContent-Length: 25\r\n\r\n"
    "{\"error\": \"rate_limited\"}";

struct Fixture {
    UploadUrl url;
    UploadRequest request;
    Uploader uploader;

    explicit Fixture(uint32_t size) {
        REQUIRE(parse_upload_url("http://10.0.0.2:8080/upload", url));
        request.url = &url;
        request.device_key = "key";
        request.capture_id = "a0b7650c1dfe-3-9";
        request.captured_at = 1767225600;
        request.content_length = size;
    }
};

std::string as_string(const std::vector<uint8_t>& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

}  // namespace

TEST_SUITE("upload") {
    TEST_CASE("a frame streams through short writes and camera-sized reads, bytes intact") {
        for (size_t max_write : {size_t{1}, size_t{7}, size_t{100}, size_t{333}, SIZE_MAX}) {
            for (uint8_t camera_read : {uint8_t{1}, uint8_t{64}, uint8_t{255}}) {
                CAPTURE(max_write);
                CAPTURE(static_cast<int>(camera_read));
                // Given a 40 KB frame, a socket that takes max_write bytes at a time and a camera
                // that hands out camera_read bytes at a time
                std::vector<uint8_t> frame = make_frame(40 * 1024 + 17);
                Fixture f(static_cast<uint32_t>(frame.size()));
                FakeCamera camera(frame, SIZE_MAX, camera_read);
                ScriptedConnection connection;
                connection.response = kCreated;
                connection.max_write = max_write;
                // When it is uploaded
                UploadResult result = f.uploader.upload(connection, camera, f.request);
                // Then the server got exactly the head and the frame, and answered 201
                CHECK(result.error == TransportError::none);
                CHECK(result.status == 201);
                CHECK(std::string(result.body.id) == "a0b7650c1dfe-3-9");
                CHECK(connection.body() == as_string(frame));
                CHECK(connection.head().find("\r\nContent-Length: 40977\r\n") != std::string::npos);
                CHECK(result.source_bytes == frame.size());
                // ... no read ever asked the camera for more than 255 bytes, no write handed the
                // socket more than the one small buffer, and the connection was closed once
                CHECK(camera.largest_request <= kMaxSourceRead);
                CHECK(connection.largest_write <= kIoBufferSize);
                CHECK(connection.closes == 1);
                CHECK(connection.connected_host == "10.0.0.2");
                CHECK(connection.connected_port == 8080);
            }
        }
    }

    TEST_CASE("a camera that runs dry early aborts the request instead of hanging the server") {
        // Given a frame announced as 10000 bytes of which the FIFO delivers only 3000
        std::vector<uint8_t> frame = make_frame(10000);
        Fixture f(10000);
        FakeCamera camera(frame, 3000);
        ScriptedConnection connection;
        connection.response = kCreated;
        // When it is uploaded
        UploadResult result = f.uploader.upload(connection, camera, f.request);
        // Then the upload stops, the connection is closed with the body short, nothing is read
        CHECK(result.error == TransportError::source_ended);
        CHECK(connection.closes == 1);
        CHECK(connection.body().size() <= 3000);
        CHECK(connection.body() == as_string(frame).substr(0, connection.body().size()));
        CHECK(connection.response_offset == 0);
        // ... and the truncated frame is not sent again
        CHECK(decide(RetryPolicy{}, 0, result.error, 0, -1, false, 0).verdict == Verdict::give_up);
    }

    TEST_CASE("a connection dropped before the response is retried with the same capture id") {
        // Given an ingest that stores the first attempt but whose answer never arrives
        std::vector<uint8_t> frame = make_frame(5000);
        Fixture f(5000);
        ScriptedConnection first;
        first.drop_before_response = true;
        FakeCamera camera1(frame);
        UploadResult r1 = f.uploader.upload(first, camera1, f.request);
        CHECK(r1.error == TransportError::no_response);
        Decision d1 = decide(RetryPolicy{}, 0, r1.error, r1.status, r1.retry_after_s,
                             r1.body.duplicate, 0);
        CHECK(d1.verdict == Verdict::retry);
        // When the camera retries
        ScriptedConnection second;
        second.response = kDuplicate;
        FakeCamera camera2(frame);
        UploadResult r2 = f.uploader.upload(second, camera2, f.request);
        // Then the retry is byte for byte the same request, and the ingest's duplicate answer
        // ends it
        CHECK(second.sent == first.sent);
        CHECK(second.head().find("\r\nX-Capture-Id: a0b7650c1dfe-3-9\r\n") != std::string::npos);
        CHECK(r2.status == 200);
        CHECK(r2.body.duplicate);
        CHECK(decide(RetryPolicy{}, 1, r2.error, r2.status, r2.retry_after_s, r2.body.duplicate, 0)
                  .verdict == Verdict::duplicate);
    }

    TEST_CASE("a read timeout after the body is a retryable missing response") {
        Fixture f(100);
        FakeCamera camera(make_frame(100));
        ScriptedConnection connection;
        connection.response = "HTTP/1.1 201 CREATED\r\nContent-Len";
        connection.timeout_at_end = true;
        UploadResult result = f.uploader.upload(connection, camera, f.request);
        CHECK(result.error == TransportError::no_response);
    }

    TEST_CASE("a refused connection leaves the frame untouched in the camera") {
        Fixture f(100);
        FakeCamera camera(make_frame(100));
        ScriptedConnection connection;
        connection.refuse_connect = true;
        UploadResult result = f.uploader.upload(connection, camera, f.request);
        CHECK(result.error == TransportError::connect_failed);
        CHECK(result.source_bytes == 0);
        CHECK(camera.reads == 0);
    }

    TEST_CASE("a connection that breaks mid-body is a write failure") {
        Fixture f(20000);
        FakeCamera camera(make_frame(20000));
        ScriptedConnection connection;
        connection.fail_after_bytes = 4000;
        UploadResult result = f.uploader.upload(connection, camera, f.request);
        CHECK(result.error == TransportError::write_failed);
        CHECK(connection.closes == 1);
        CHECK(decide(RetryPolicy{}, 0, result.error, 0, -1, false, 0).verdict == Verdict::retry);
    }

    TEST_CASE("an answer sent before the body was in is read, not lost to the broken pipe") {
        // Given an ingest that refuses a big frame with 429 after 4 KB and closes the connection
        Fixture f(2 * 1024 * 1024);
        FakeCamera camera(make_frame(2 * 1024 * 1024));
        ScriptedConnection connection;
        connection.fail_after_bytes = 4000;
        connection.response = kLimited;
        // When the camera's writes start failing
        UploadResult result = f.uploader.upload(connection, camera, f.request);
        // Then the camera still learns when to come back
        CHECK(result.error == TransportError::none);
        CHECK(result.status == 429);
        CHECK(result.retry_after_s == 4);
        CHECK(result.source_bytes < 10000);
    }

    TEST_CASE("a 429 comes back with its Retry-After, arriving in small pieces") {
        Fixture f(300);
        FakeCamera camera(make_frame(300));
        ScriptedConnection connection;
        connection.response = kLimited;
        connection.read_piece = 5;
        UploadResult result = f.uploader.upload(connection, camera, f.request);
        CHECK(result.status == 429);
        CHECK(result.retry_after_s == 4);
        CHECK(std::string(result.body.error) == "rate_limited");
        Decision d = decide(RetryPolicy{}, 0, result.error, result.status, result.retry_after_s,
                            false, 0);
        CHECK(d.verdict == Verdict::retry);
        CHECK(d.delay_ms >= 4000);
    }

    TEST_CASE("an answer that is not HTTP is a bad response") {
        Fixture f(10);
        FakeCamera camera(make_frame(10));
        ScriptedConnection connection;
        connection.response = "220 smtp.example.org ESMTP\r\n";
        CHECK(f.uploader.upload(connection, camera, f.request).error == TransportError::bad_response);
    }

    TEST_CASE("a request that cannot be built never opens a connection") {
        Fixture f(10);
        f.request.capture_id = "bad id";
        FakeCamera camera(make_frame(10));
        ScriptedConnection connection;
        CHECK(f.uploader.upload(connection, camera, f.request).error == TransportError::bad_request);
        CHECK(connection.connects == 0);
    }

    TEST_CASE("the uploader's buffers are a fixed few KiB whatever the frame size") {
        // One upload owns the Uploader (I/O buffer + last body) and a ResponseParser on the stack.
        CHECK(sizeof(Uploader) + sizeof(ResponseParser) <= 4096);
        for (uint32_t size : {30u * 1024, 500u * 1024, 2u * 1024 * 1024}) {
            CAPTURE(size);
            Fixture f(size);
            FakeCamera camera(make_frame(size));
            ScriptedConnection connection;
            connection.response = kCreated;
            connection.max_write = 1460;
            UploadResult result = f.uploader.upload(connection, camera, f.request);
            CHECK(result.status == 201);
            CHECK(connection.body().size() == size);
            CHECK(connection.largest_write <= kIoBufferSize);
        }
    }

    TEST_CASE("a frame kept in memory reads back in camera-sized pieces") {
        std::vector<uint8_t> frame = make_frame(1000);
        MemoryFrameSource source(frame.data(), static_cast<uint32_t>(frame.size()));
        uint8_t piece[255];
        std::string copied;
        while (uint8_t n = source.read(piece, 255)) copied.append(reinterpret_cast<char*>(piece), n);
        CHECK(copied == as_string(frame));
        source.rewind();
        CHECK(source.read(piece, 10) == 10);
        CHECK(piece[0] == 0xff);
    }
}
