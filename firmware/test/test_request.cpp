// The upload URL and the exact request head the camera sends.
#include <doctest/doctest.h>

#include <string>

#include "camcloud/request.h"

using namespace camcloud;

namespace {
UploadUrl url_of(const char* text) {
    UploadUrl url;
    REQUIRE(parse_upload_url(text, url));
    return url;
}

std::string head_of(const UploadRequest& request, size_t capacity = 1024) {
    std::string out(capacity, '\0');
    size_t n = build_request_head(request, &out[0], out.size());
    out.resize(n);
    return out;
}
}  // namespace

TEST_SUITE("request") {
    TEST_CASE("upload URLs are split into scheme, host, port and path") {
        UploadUrl local = url_of("http://127.0.0.1:8080/upload");
        CHECK_FALSE(local.tls);
        CHECK(std::string(local.host) == "127.0.0.1");
        CHECK(local.port == 8080);
        CHECK_FALSE(local.default_port);
        CHECK(std::string(local.path) == "/upload");

        UploadUrl cloud = url_of("https://cam.example.org/upload");
        CHECK(cloud.tls);
        CHECK(cloud.port == 443);
        CHECK(cloud.default_port);

        CHECK(std::string(url_of("http://cam.local").path) == "/");
        CHECK(url_of("http://cam.local").port == 80);
    }

    TEST_CASE("anything that is not an http(s) URL is refused") {
        UploadUrl url;
        for (const char* bad : {"", "ftp://x/upload", "http://", "http://:80/upload", "http://h:0/",
                                "http://h:65536/", "http://h:80x/", "cam.local/upload",
                                "http://h/up load", "http://h/upload\r\nX: y"}) {
            CAPTURE(bad);
            CHECK_FALSE(parse_upload_url(bad, url));
        }
        CHECK_FALSE(parse_upload_url(nullptr, url));
    }

    TEST_CASE("the request head carries every header of the protocol, byte for byte") {
        // Given a capture from a camera with NTP time and telemetry
        UploadUrl url = url_of("http://192.168.1.20:8080/upload");
        Telemetry t;
        t.firmware = "1.2.0";
        t.rssi_dbm = -67;
        t.has_rssi = true;
        t.free_heap = 181234;
        t.max_alloc_heap = 110580;
        t.boot_count = 17;
        t.reset_reason = "power_on";
        t.uptime_s = 3600;
        t.frames_lost = 2;
        UploadRequest r;
        r.url = &url;
        r.device_key = "k3y";
        r.device_id = "garden";
        r.capture_id = "a0b7650c1dfe-17-42";
        r.captured_at = 1767225600;
        r.content_length = 312345;
        r.user_agent = "camcloud-firmware/1.2.0";
        r.telemetry = &t;
        // When the head is built
        // Then it is exactly what the ingest expects, Content-Length included
        CHECK(head_of(r) ==
              "POST /upload HTTP/1.1\r\n"
              "Host: 192.168.1.20:8080\r\n"
              "User-Agent: camcloud-firmware/1.2.0\r\n"
              "Authorization: Bearer k3y\r\n"
              "Content-Type: image/jpeg\r\n"
              "Content-Length: 312345\r\n"
              "X-Capture-Id: a0b7650c1dfe-17-42\r\n"
              "X-Device-Id: garden\r\n"
              "X-Captured-At: 1767225600\r\n"
              "X-Firmware: 1.2.0\r\n"
              "X-RSSI: -67\r\n"
              "X-Free-Heap: 181234\r\n"
              "X-Max-Alloc-Heap: 110580\r\n"
              "X-Boot-Count: 17\r\n"
              "X-Reset-Reason: power_on\r\n"
              "X-Uptime: 3600\r\n"
              "X-Frames-Lost: 2\r\n"
              "Connection: close\r\n"
              "\r\n");
    }

    TEST_CASE("telemetry reports the largest free heap block beside the total free heap") {
        // Given a fragmented heap: 150 KB free in total, but no block above 12 KB (TLS needs 16)
        UploadUrl url = url_of("https://cam.example.org/upload");
        Telemetry t;
        t.free_heap = 150000;
        t.max_alloc_heap = 12276;
        UploadRequest r;
        r.url = &url;
        r.device_key = "k";
        r.capture_id = "c-1";
        r.content_length = 1;
        r.telemetry = &t;
        // When the head is built
        std::string head = head_of(r);
        // Then both figures go out, so the cameras page can tell fragmentation from a leak
        CHECK(head.find("\r\nX-Free-Heap: 150000\r\n") != std::string::npos);
        CHECK(head.find("\r\nX-Max-Alloc-Heap: 12276\r\n") != std::string::npos);
    }

    TEST_CASE("optional headers are left out when the camera has nothing to say") {
        // Given a camera without NTP time yet, no device id and no telemetry, on port 443
        UploadUrl url = url_of("https://cam.example.org/upload");
        UploadRequest r;
        r.url = &url;
        r.device_key = "k";
        r.capture_id = "c-1";
        r.content_length = 1;
        CHECK(head_of(r) ==
              "POST /upload HTTP/1.1\r\n"
              "Host: cam.example.org\r\n"
              "User-Agent: camcloud-firmware\r\n"
              "Authorization: Bearer k\r\n"
              "Content-Type: image/jpeg\r\n"
              "Content-Length: 1\r\n"
              "X-Capture-Id: c-1\r\n"
              "Connection: close\r\n"
              "\r\n");
    }

    TEST_CASE("Content-Length is the exact frame size up to the largest frames") {
        UploadUrl url = url_of("http://h/upload");
        UploadRequest r;
        r.url = &url;
        r.device_key = "k";
        r.capture_id = "c";
        for (uint32_t size : {1u, 30u * 1024, 500u * 1024, 2u * 1024 * 1024, 0xffffffffu}) {
            r.content_length = size;
            CHECK(head_of(r).find("\r\nContent-Length: " + std::to_string(size) + "\r\n") !=
                  std::string::npos);
        }
    }

    TEST_CASE("a request that would break the header syntax is not built") {
        UploadUrl url = url_of("http://h/upload");
        UploadRequest r;
        r.url = &url;
        r.device_key = "k";
        r.capture_id = "c";
        r.content_length = 10;
        CHECK_FALSE(head_of(r).empty());

        UploadRequest injected = r;
        injected.device_key = "k\r\nX-Device-Id: other";
        CHECK(head_of(injected).empty());
        UploadRequest bad_id = r;
        bad_id.capture_id = "no spaces";
        CHECK(head_of(bad_id).empty());
        UploadRequest no_key = r;
        no_key.device_key = "";
        CHECK(head_of(no_key).empty());
        UploadRequest empty_frame = r;
        empty_frame.content_length = 0;
        CHECK(head_of(empty_frame).empty());
        Telemetry t;
        t.reset_reason = "brown\nout";
        UploadRequest bad_telemetry = r;
        bad_telemetry.telemetry = &t;
        CHECK(head_of(bad_telemetry).empty());
    }

    TEST_CASE("a head that does not fit the buffer is refused, never cut") {
        UploadUrl url = url_of("http://h/upload");
        UploadRequest r;
        r.url = &url;
        r.device_key = "k";
        r.capture_id = "c";
        r.content_length = 10;
        size_t full = head_of(r).size();
        CHECK(head_of(r, full + 1).size() == full);
        CHECK(head_of(r, full).empty());
        CHECK(head_of(r, 20).empty());
    }
}
