// A simulated ESP32 for host tests of the glue: it defines the Arduino / ESP-IDF / WiFi APIs that
// host/include/ declares, on a simulated clock. Every delay(), SPI byte and network wait moves
// the clock; nothing sleeps. The task watchdog is simulated too: when the loop task goes longer
// than its timeout without esp_task_wdt_reset(), sim::WatchdogReset is thrown, which is what a
// real board does (a reboot) made visible to a test.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sim {

// ---- clock ---------------------------------------------------------------------------------
uint64_t now_us();
uint32_t now_ms();
// Moves the clock (and checks the watchdog).
void advance_us(uint64_t us);
void advance_ms(uint32_t ms);

// ---- task watchdog -------------------------------------------------------------------------
struct WatchdogReset : std::runtime_error {
    explicit WatchdogReset(const std::string& what) : std::runtime_error(what) {}
};
struct Watchdog {
    uint32_t timeout_ms = 0;   // from esp_task_wdt_init; 0 = not started
    bool subscribed = false;   // esp_task_wdt_add(nullptr)
    uint64_t last_feed_us = 0;
    uint64_t longest_unfed_us = 0;  // the largest gap between two feeds seen so far
    uint32_t feeds = 0;
};
Watchdog& watchdog();

// ---- deep sleep ----------------------------------------------------------------------------
// esp_deep_sleep_start() throws this: the test sees where the firmware went to sleep.
struct DeepSleep {
    uint64_t wake_after_us;
};

// ---- serial log ----------------------------------------------------------------------------
// Everything printed on Serial since the last reset().
std::string& serial();

// ---- SPI bus and GPIO ----------------------------------------------------------------------
class SpiDevice {
public:
    virtual ~SpiDevice() = default;
    virtual void select() = 0;    // CS went low
    virtual void deselect() = 0;  // CS went high
    // One full-duplex byte: returns what the device puts on MISO while `mosi` is clocked in.
    virtual uint8_t transfer(uint8_t mosi) = 0;
};
struct SpiBus {
    std::map<int, SpiDevice*> devices;  // by CS pin
    SpiDevice* selected = nullptr;
    // What MISO reads with no device driving it (a floating line, pulled up on most boards).
    uint8_t idle_level = 0xff;
    // Time per byte on the wire (the driver leaves arduino-esp32's default clock of 1 MHz).
    uint32_t ns_per_byte = 8000;
    bool begun = false;
    uint64_t bytes = 0;
};
SpiBus& spi();
std::map<int, int>& pin_levels();

// ---- chip ----------------------------------------------------------------------------------
struct Chip {
    int reset_reason = 1;  // ESP_RST_POWERON
    uint32_t heap_size = 327680;
    uint32_t free_heap = 180000;
    uint32_t max_alloc_heap = 110000;
    uint32_t psram_size = 0;      // 0: no PSRAM
    uint32_t free_psram = 0;
    uint32_t max_alloc_psram = 0;
    std::vector<std::vector<uint8_t>> psram_blocks;  // what ps_malloc handed out
    uint32_t random_state = 12345;
};
Chip& chip();

// ---- WiFi (station) ------------------------------------------------------------------------
// arduino-esp32 2.0.x: the hostname is applied to the station interface when WiFi.mode()
// starts it; setHostname() afterwards only changes what the next start would use.
struct Wifi {
    bool access_point_up = true;
    uint32_t join_ms = 4500;            // association + DHCP of one join
    std::string pending_hostname = "esp32-arduino";
    std::string interface_hostname;     // what the DHCP server sees; empty until mode(STA)
    bool sta_started = false;
    bool joining = false;
    uint64_t join_started_us = 0;
    bool connected = false;
    int begins = 0;
    int disconnects = 0;
    int joins_aborted = 0;              // disconnect() while a join was in progress
    int rssi = -61;
};
Wifi& wifi();
// Brings the link down, as an access point reboot does.
void wifi_drop();

// ---- DNS, TCP and TLS ----------------------------------------------------------------------
struct Net {
    // hostByName: answers after dns_ms; a resolver that never answers costs arduino-esp32's own
    // 15 s wait (WiFiGeneric.cpp waits 15000 ms for DNS_DONE) and then fails.
    uint32_t dns_ms = 20;
    bool dns_answers = true;
    // TCP: a server that never answers SYN costs the whole connect timeout.
    uint32_t connect_ms = 30;
    bool server_answers_syn = true;
    // TLS: a server that accepts TCP but never finishes the handshake costs the handshake
    // timeout plus one socket read timeout (ssl_client.cpp checks the clock between reads).
    uint32_t handshake_ms = 900;
    bool server_finishes_handshake = true;
    // What the last connect used.
    std::string sni_host;
    std::string ca_cert;
    int32_t plain_timeout_ms = -1;
    uint32_t tls_timeout_ms = 30000;            // WiFiClientSecure's defaults
    uint32_t tls_handshake_timeout_ms = 120000;
    int connects = 0;
    bool open = false;
    std::string sent;
    std::string response = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    size_t response_offset = 0;
    // When set: the answer to each request, made from the request's bytes (head and body) when
    // the firmware starts reading; `response` otherwise.
    std::function<std::string(const std::string& request)> answer;
    bool answered = false;
    std::vector<std::string> requests;  // every request sent, in order (at close)
    std::vector<uint32_t> request_ms;   // when each was closed
};
Net& net();

// ---- OTA (Update, esp_ota_ops) --------------------------------------------------------------
struct Ota {
    uint32_t partition_size = 0x1E0000;  // the default partition table's app slot
    bool begin_fails = false;
    bool begun = false;
    uint32_t size = 0;
    std::string written;
    bool aborted = false;
    bool boot_switched = false;  // Update.end() succeeded: the next boot starts the new image
    int running_state = 2;       // esp_ota_img_states_t of the running image (2: VALID)
    bool marked_valid = false;   // esp_ota_mark_app_valid_cancel_rollback() was called
};
Ota& ota();

// ---- SNTP ----------------------------------------------------------------------------------
struct Sntp {
    void (*callback)(struct timeval*) = nullptr;
    std::string server;
    bool started = false;
    int64_t unix_at_boot = 0;  // the wall clock: unix_at_boot + now; 0 until set
};
Sntp& sntp();
// An SNTP reply arrives: sets the clock to `unix_now` and calls the notification callback.
void sntp_reply(int64_t unix_now);

// Back to a powered-off board: clock 0, no devices, defaults everywhere.
void reset();

}  // namespace sim
