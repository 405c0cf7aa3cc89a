// The glue's WiFi link, connections and telemetry on the simulated board (host/sim): a
// simulated clock, a simulated 30 s task watchdog that throws where a board would reboot, and
// WiFi / DNS / TCP / TLS that behave like arduino-esp32 2.0.14's, stalls and timeouts included.
#include <doctest/doctest.h>
#include <esp_task_wdt.h>

#include <string>

#include "camcloud/request.h"
#include "camcloud/upload.h"
#include "fakes.h"
#include "sim.h"
#include "status.h"
#include "telemetry.h"
#include "wifi_connection.h"
#include "wifi_link.h"

namespace {

constexpr uint64_t kWatchdogUs = 30ULL * 1000 * 1000;

void power_on() {
    sim::reset();
    esp_task_wdt_init(30, true);
    esp_task_wdt_add(nullptr);
}

// loop() feeds the watchdog once per pass; each pass here is `step_ms` long.
void run_loop(WifiLink& link, uint32_t duration_ms, uint32_t step_ms = 100) {
    for (uint32_t t = 0; t < duration_ms; t += step_ms) {
        esp_task_wdt_reset();
        link.poll(sim::now_ms());
        sim::advance_ms(step_ms);
    }
}

camcloud::UploadResult upload_through(camcloud::Connection& connection, const char* url_text) {
    static camcloud::Uploader uploader;
    camcloud::UploadUrl url;
    REQUIRE(camcloud::parse_upload_url(url_text, url));
    camcloud::UploadRequest request;
    request.url = &url;
    request.device_key = "k3y";
    request.capture_id = "a0b7650c1dfe-1-0";
    std::vector<uint8_t> frame = camcloud_test::make_frame(30 * 1024);
    request.content_length = static_cast<uint32_t>(frame.size());
    camcloud::MemoryFrameSource source(frame.data(), static_cast<uint32_t>(frame.size()));
    return uploader.upload(connection, source, request);
}

}  // namespace

TEST_SUITE("wifi link") {
    TEST_CASE("the hostname is set before WiFi.mode, so DHCP announces it") {
        // Given arduino-esp32 2.0.x, which applies the hostname when the station starts
        power_on();
        WifiLink link("garden", "secret", "camcloud-cam");
        // When the link starts
        link.begin();
        // Then the station interface carries our name, not "esp32-arduino"
        CHECK(sim::wifi().interface_hostname == "camcloud-cam");
    }

    TEST_CASE("a slow join (association plus DHCP, 5.5 s) is not disconnected by the first retry") {
        // Given an access point whose join takes 5.5 s
        power_on();
        sim::wifi().join_ms = 5500;
        WifiLink link("garden", "secret", "camcloud-cam");
        link.begin();
        // When the loop runs for 10 s
        run_loop(link, 10000);
        // Then the first join completed: one WiFi.begin(), no join cut short
        CHECK(link.connected());
        CHECK(sim::wifi().begins == 1);
        CHECK(sim::wifi().joins_aborted == 0);
        CHECK(sim::serial().find("wifi: connected") != std::string::npos);
    }

    TEST_CASE("an access point that is away: retries back off, never sooner than a join takes") {
        // Given no access point
        power_on();
        sim::wifi().access_point_up = false;
        WifiLink link("garden", "secret", "camcloud-cam");
        link.begin();
        // When the loop runs for 10 minutes
        run_loop(link, 10UL * 60UL * 1000UL, 500);
        // Then it tried a few times, with at least the join window between tries
        CHECK(sim::wifi().begins >= 5);
        CHECK(sim::wifi().begins <= 25);
        CHECK_FALSE(link.connected());
        // When the access point comes back, a later attempt joins
        sim::wifi().access_point_up = true;
        run_loop(link, 2UL * 60UL * 1000UL, 500);
        CHECK(link.connected());
    }
}

TEST_SUITE("bounded connects") {
    TEST_CASE("a resolver that never answers ends in a failed connect, not a watchdog reset") {
        // Given a DNS server that stays silent
        power_on();
        sim::net().dns_answers = false;
        WiFiClient client;
        WifiConnection connection(client, 20000);
        // When the camera uploads to a host name
        camcloud::UploadResult result;
        CHECK_NOTHROW(result = upload_through(connection, "http://ingest.example.org/upload"));
        // Then the attempt fails as connect_failed (a retry follows) within the resolver's 15 s
        CHECK(result.error == camcloud::TransportError::connect_failed);
        CHECK(sim::watchdog().longest_unfed_us < kWatchdogUs);
        CHECK(sim::serial().find("dns: no address for ingest.example.org") != std::string::npos);
    }

    TEST_CASE("a server that never answers the TCP connect costs 5 s, not 30") {
        power_on();
        sim::net().server_answers_syn = false;
        WiFiClient client;
        WifiConnection connection(client, 20000);
        uint32_t started = sim::now_ms();
        camcloud::UploadResult result = upload_through(connection, "http://192.168.1.10:8080/upload");
        CHECK(result.error == camcloud::TransportError::connect_failed);
        CHECK(sim::net().plain_timeout_ms == 5000);
        CHECK(sim::now_ms() - started <= 5100);
    }

    TEST_CASE("a TLS server that stalls the handshake ends in a retry, not a reboot") {
        // Given an HTTPS ingest that accepts TCP but never finishes the TLS handshake, behind a
        // resolver that takes 12 s (WiFiClientSecure's own defaults: 30 s connect, 120 s handshake)
        power_on();
        sim::net().dns_ms = 12000;
        sim::net().server_finishes_handshake = false;
        WiFiClientSecure client;
        WifiConnection connection(client, "-----BEGIN CERTIFICATE-----\n...", 20000);
        // When the camera uploads
        camcloud::UploadResult result;
        CHECK_NOTHROW(result = upload_through(connection, "https://ingest.example.org/upload"));
        // Then the attempt fails with connect_failed; the timeouts were set; the watchdog was fed
        // between the lookup and the handshake, so no stretch came near its 30 s
        CHECK(result.error == camcloud::TransportError::connect_failed);
        CHECK(sim::net().tls_handshake_timeout_ms == WifiConnection::kHandshakeTimeoutS * 1000);
        CHECK(sim::net().tls_timeout_ms == WifiConnection::kConnectTimeoutS * 1000);
        CHECK(sim::watchdog().longest_unfed_us <= 20ULL * 1000 * 1000);
    }

    TEST_CASE("TLS connects to the resolved address with the name as SNI and the pinned root CA") {
        power_on();
        WiFiClientSecure client;
        WifiConnection connection(client, "PEM-OF-ISRG-ROOT-X1", 20000);
        camcloud::UploadResult result = upload_through(connection, "https://ingest.example.org/upload");
        CHECK(result.error == camcloud::TransportError::none);
        CHECK(result.status == 201);
        CHECK(sim::net().sni_host == "ingest.example.org");
        CHECK(sim::net().ca_cert == "PEM-OF-ISRG-ROOT-X1");
        CHECK(sim::net().sent.find("POST /upload HTTP/1.1\r\nHost: ingest.example.org\r\n") == 0);
    }
}

TEST_SUITE("telemetry") {
    TEST_CASE("telemetry carries the largest free heap block from ESP.getMaxAllocHeap()") {
        power_on();
        sim::chip().free_heap = 151000;
        sim::chip().max_alloc_heap = 61428;
        DeviceStatus status;
        status.boot_count = 3;
        camcloud::Telemetry t = collect_telemetry(status);
        CHECK(t.free_heap == 151000);
        CHECK(t.max_alloc_heap == 61428);
        CHECK(t.boot_count == 3);
    }
}
