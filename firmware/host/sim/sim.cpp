// Definitions of the host/include/ APIs on the simulated board of sim.h.
#include "sim.h"

#include <Arduino.h>
#include <Preferences.h>
#include <Update.h>
#include <SPI.h>
#include <WiFi.h>
#include <WiFiClient.h>
#include <WiFiClientSecure.h>
#include <esp_ota_ops.h>
#include <esp_sleep.h>
#include <esp_sntp.h>
#include <esp_system.h>
#include <esp_task_wdt.h>
#include <esp_timer.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace sim {
namespace {

struct State {
    uint64_t now_us = 0;
    Watchdog watchdog;
    std::string serial;
    SpiBus spi;
    std::map<int, int> pins;
    Chip chip;
    Wifi wifi;
    Net net;
    Sntp sntp;
    Ota ota;
    std::map<std::string, std::string> nvs_blobs;  // Preferences strings and bytes
};
State& state() {
    static State s;
    return s;
}

void check_watchdog() {
    Watchdog& w = state().watchdog;
    if (w.timeout_ms == 0 || !w.subscribed) return;
    uint64_t unfed = state().now_us - w.last_feed_us;
    w.longest_unfed_us = std::max(w.longest_unfed_us, unfed);
    if (unfed > static_cast<uint64_t>(w.timeout_ms) * 1000) {
        throw WatchdogReset("task watchdog: loop task unfed for " + std::to_string(unfed / 1000) +
                            " ms (timeout " + std::to_string(w.timeout_ms) + " ms)");
    }
}

// The station's join completes join_ms after WiFi.begin() when the access point is up.
void update_wifi() {
    Wifi& w = state().wifi;
    if (w.joining && w.access_point_up &&
        state().now_us - w.join_started_us >= static_cast<uint64_t>(w.join_ms) * 1000) {
        w.joining = false;
        w.connected = true;
    }
}

}  // namespace

uint64_t now_us() { return state().now_us; }
uint32_t now_ms() { return static_cast<uint32_t>(state().now_us / 1000); }
void advance_us(uint64_t us) {
    state().now_us += us;
    check_watchdog();
}
void advance_ms(uint32_t ms) { advance_us(static_cast<uint64_t>(ms) * 1000); }
Watchdog& watchdog() { return state().watchdog; }
std::string& serial() { return state().serial; }
SpiBus& spi() { return state().spi; }
std::map<int, int>& pin_levels() { return state().pins; }
Chip& chip() { return state().chip; }
Wifi& wifi() { return state().wifi; }
Net& net() { return state().net; }
Sntp& sntp() { return state().sntp; }
Ota& ota() { return state().ota; }

void wifi_drop() {
    state().wifi.connected = false;
    state().wifi.joining = false;
}

void sntp_reply(int64_t unix_now) {
    Sntp& s = state().sntp;
    s.unix_at_boot = unix_now - static_cast<int64_t>(now_us() / 1000000);
    if (s.callback != nullptr) {
        struct timeval tv = {static_cast<time_t>(unix_now), 0};
        s.callback(&tv);
    }
}

void reset() { state() = State(); }

}  // namespace sim

// ---- Arduino core --------------------------------------------------------------------------
unsigned long millis(void) { return sim::now_ms(); }
unsigned long micros(void) { return static_cast<unsigned long>(sim::now_us()); }
void delay(uint32_t ms) { sim::advance_ms(ms); }
void delayMicroseconds(uint32_t us) { sim::advance_us(us); }
void yield(void) {}
void pinMode(uint8_t, uint8_t) {}
int digitalRead(uint8_t pin) { return sim::pin_levels()[pin]; }
void digitalWrite(uint8_t pin, uint8_t val) {
    sim::pin_levels()[pin] = val;
    sim::SpiBus& bus = sim::spi();
    auto device = bus.devices.find(pin);
    if (device == bus.devices.end()) return;
    if (val == LOW) {
        bus.selected = device->second;
        device->second->select();
    } else {
        if (bus.selected == device->second) bus.selected = nullptr;
        device->second->deselect();
    }
}
void attachInterrupt(uint8_t, void (*)(void), int) {}
void detachInterrupt(uint8_t) {}

bool psramFound(void) { return sim::chip().psram_size > 0; }
void* ps_malloc(size_t size) {
    sim::Chip& c = sim::chip();
    if (size == 0 || size > c.max_alloc_psram) return nullptr;
    c.psram_blocks.emplace_back(size);
    c.free_psram -= static_cast<uint32_t>(size);
    c.max_alloc_psram = std::min(c.max_alloc_psram, c.free_psram);
    return c.psram_blocks.back().data();
}

void configTime(long, int, const char* server1, const char*, const char*) {
    sim::sntp().server = server1 != nullptr ? server1 : "";
    sim::sntp().started = true;
}

String::String(const char* cstr) {
    len_ = static_cast<unsigned int>(std::strlen(cstr != nullptr ? cstr : ""));
    buffer_ = new char[len_ + 1];
    std::memcpy(buffer_, cstr != nullptr ? cstr : "", len_ + 1);
}
String::String(const String& str) : String(str.c_str()) {}
String::~String(void) { delete[] buffer_; }
String& String::operator=(const String& rhs) {
    if (this != &rhs) {
        String copy(rhs);
        std::swap(buffer_, copy.buffer_);
        std::swap(len_, copy.len_);
    }
    return *this;
}
const char* String::c_str() const { return buffer_; }
unsigned int String::length(void) const { return len_; }

size_t Print::write(const uint8_t* buffer, size_t size) {
    for (size_t i = 0; i < size; ++i) write(buffer[i]);
    return size;
}
size_t Print::printf(const char* format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    int n = std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n < 0) return 0;
    size_t len = std::min(static_cast<size_t>(n), sizeof line - 1);
    return write(reinterpret_cast<const uint8_t*>(line), len);
}
size_t Print::print(const char text[]) {
    return write(reinterpret_cast<const uint8_t*>(text), std::strlen(text));
}
size_t Print::println(const char text[]) { return print(text) + println(); }
size_t Print::println(void) { return print("\r\n"); }
void Stream::setTimeout(unsigned long) {}

HardwareSerial Serial;
void HardwareSerial::begin(unsigned long, uint32_t, int8_t, int8_t, bool, unsigned long, uint8_t) {}
int HardwareSerial::available(void) { return 0; }
int HardwareSerial::peek(void) { return -1; }
int HardwareSerial::read(void) { return -1; }
size_t HardwareSerial::write(uint8_t c) {
    if (c != '\r') sim::serial().push_back(static_cast<char>(c));
    return 1;
}
size_t HardwareSerial::write(const uint8_t* buffer, size_t size) {
    for (size_t i = 0; i < size; ++i) write(buffer[i]);
    return size;
}
void HardwareSerial::flush(void) {}

IPAddress::IPAddress() = default;
IPAddress::IPAddress(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
    : address_(static_cast<uint32_t>(a) | static_cast<uint32_t>(b) << 8 |
               static_cast<uint32_t>(c) << 16 | static_cast<uint32_t>(d) << 24) {}
IPAddress::IPAddress(uint32_t address) : address_(address) {}
bool IPAddress::fromString(const char* address) {
    unsigned a, b, c, d;
    char extra;
    if (std::sscanf(address, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4) return false;
    if (a > 255 || b > 255 || c > 255 || d > 255) return false;
    *this = IPAddress(static_cast<uint8_t>(a), static_cast<uint8_t>(b), static_cast<uint8_t>(c),
                      static_cast<uint8_t>(d));
    return true;
}
String IPAddress::toString() const {
    char text[16];
    std::snprintf(text, sizeof text, "%u.%u.%u.%u", address_ & 0xff, (address_ >> 8) & 0xff,
                  (address_ >> 16) & 0xff, (address_ >> 24) & 0xff);
    return String(text);
}

EspClass ESP;
uint32_t EspClass::getHeapSize() { return sim::chip().heap_size; }
uint32_t EspClass::getFreeHeap() { return sim::chip().free_heap; }
uint32_t EspClass::getMinFreeHeap() { return sim::chip().free_heap; }
uint32_t EspClass::getMaxAllocHeap() { return sim::chip().max_alloc_heap; }
uint32_t EspClass::getPsramSize() { return sim::chip().psram_size; }
uint32_t EspClass::getFreePsram() { return sim::chip().free_psram; }
uint32_t EspClass::getMaxAllocPsram() { return sim::chip().max_alloc_psram; }
void EspClass::restart() { throw sim::WatchdogReset("ESP.restart()"); }

// ---- SPI -----------------------------------------------------------------------------------
SPIClass SPI;
SPIClass::SPIClass(uint8_t) {}
void SPIClass::begin(int8_t, int8_t, int8_t, int8_t) { sim::spi().begun = true; }
void SPIClass::end() { sim::spi().begun = false; }
void SPIClass::setFrequency(uint32_t) {}
void SPIClass::beginTransaction(SPISettings) {}
void SPIClass::endTransaction(void) {}
uint8_t SPIClass::transfer(uint8_t data) {
    sim::SpiBus& bus = sim::spi();
    ++bus.bytes;
    sim::advance_us((bus.ns_per_byte + 999) / 1000);
    return bus.selected != nullptr ? bus.selected->transfer(data) : bus.idle_level;
}
void SPIClass::transfer(void* data, uint32_t size) {
    uint8_t* bytes = static_cast<uint8_t*>(data);
    for (uint32_t i = 0; i < size; ++i) bytes[i] = transfer(bytes[i]);
}

// ---- ESP-IDF -------------------------------------------------------------------------------
esp_reset_reason_t esp_reset_reason(void) {
    return static_cast<esp_reset_reason_t>(sim::chip().reset_reason);
}
uint32_t esp_random(void) {
    // xorshift: deterministic runs, different values per call.
    uint32_t& x = sim::chip().random_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}
int64_t esp_timer_get_time(void) { return static_cast<int64_t>(sim::now_us()); }

esp_err_t esp_task_wdt_init(uint32_t timeout, bool) {
    sim::watchdog().timeout_ms = timeout * 1000;
    sim::watchdog().last_feed_us = sim::now_us();
    return ESP_OK;
}
esp_err_t esp_task_wdt_add(TaskHandle_t) {
    sim::watchdog().subscribed = true;
    sim::watchdog().last_feed_us = sim::now_us();
    return ESP_OK;
}
esp_err_t esp_task_wdt_reset(void) {
    sim::Watchdog& w = sim::watchdog();
    w.longest_unfed_us = std::max(w.longest_unfed_us, sim::now_us() - w.last_feed_us);
    w.last_feed_us = sim::now_us();
    ++w.feeds;
    return ESP_OK;
}
esp_err_t esp_task_wdt_delete(TaskHandle_t) {
    sim::watchdog().subscribed = false;
    return ESP_OK;
}

esp_err_t esp_sleep_enable_timer_wakeup(uint64_t) { return ESP_OK; }
esp_err_t esp_sleep_enable_ext0_wakeup(gpio_num_t, int) { return ESP_OK; }
esp_sleep_wakeup_cause_t esp_sleep_get_wakeup_cause(void) { return ESP_SLEEP_WAKEUP_UNDEFINED; }
void esp_deep_sleep_start(void) { throw sim::DeepSleep{0}; }

void sntp_set_time_sync_notification_cb(sntp_sync_time_cb_t callback) {
    sim::sntp().callback = callback;
}
sntp_sync_status_t sntp_get_sync_status(void) { return SNTP_SYNC_STATUS_RESET; }

// ---- Preferences (NVS) ---------------------------------------------------------------------
namespace {
std::map<std::string, uint32_t>& nvs() {
    static std::map<std::string, uint32_t> values;
    return values;
}
}  // namespace
Preferences::Preferences() = default;
Preferences::~Preferences() = default;
bool Preferences::begin(const char*, bool, const char*) { return true; }
void Preferences::end() {}
size_t Preferences::putUInt(const char* key, uint32_t value) {
    nvs()[key] = value;
    return 4;
}
uint32_t Preferences::getUInt(const char* key, uint32_t defaultValue) {
    auto found = nvs().find(key);
    return found == nvs().end() ? defaultValue : found->second;
}

bool Preferences::remove(const char* key) {
    bool had = sim::state().nvs_blobs.erase(key) > 0;
    return nvs().erase(key) > 0 || had;
}
size_t Preferences::putString(const char* key, const char* value) {
    sim::state().nvs_blobs[key] = value;
    return std::strlen(value);
}
size_t Preferences::putBytes(const char* key, const void* value, size_t len) {
    sim::state().nvs_blobs[key] = std::string(static_cast<const char*>(value), len);
    return len;
}
size_t Preferences::getString(const char* key, char* value, size_t maxLen) {
    auto found = sim::state().nvs_blobs.find(key);
    if (found == sim::state().nvs_blobs.end() || found->second.size() + 1 > maxLen) return 0;
    std::memcpy(value, found->second.c_str(), found->second.size() + 1);
    return found->second.size() + 1;
}
size_t Preferences::getBytesLength(const char* key) {
    auto found = sim::state().nvs_blobs.find(key);
    return found == sim::state().nvs_blobs.end() ? 0 : found->second.size();
}
size_t Preferences::getBytes(const char* key, void* buf, size_t maxLen) {
    auto found = sim::state().nvs_blobs.find(key);
    if (found == sim::state().nvs_blobs.end() || found->second.size() > maxLen) return 0;
    std::memcpy(buf, found->second.data(), found->second.size());
    return found->second.size();
}

// ---- Update and esp_ota_ops ---------------------------------------------------------------
UpdateClass Update;
UpdateClass::UpdateClass() = default;
bool UpdateClass::begin(size_t size, int, int, uint8_t, const char*) {
    sim::Ota& o = sim::ota();
    if (o.begin_fails || size > o.partition_size) return false;
    o.begun = true;
    o.size = static_cast<uint32_t>(size);
    o.written.clear();
    o.aborted = false;
    return true;
}
size_t UpdateClass::write(uint8_t* data, size_t len) {
    sim::Ota& o = sim::ota();
    if (!o.begun || o.written.size() + len > o.size) return 0;
    o.written.append(reinterpret_cast<const char*>(data), len);
    sim::advance_ms(1);  // a flash sector write takes its time
    return len;
}
bool UpdateClass::end(bool) {
    sim::Ota& o = sim::ota();
    // The real end() refuses an image that is not complete or does not start with 0xE9.
    if (!o.begun || o.written.size() != o.size || o.written.empty() ||
        static_cast<uint8_t>(o.written[0]) != 0xE9) {
        return false;
    }
    o.begun = false;
    o.boot_switched = true;
    return true;
}
void UpdateClass::abort() {
    sim::ota().begun = false;
    sim::ota().aborted = true;
}
const char* UpdateClass::errorString() { return "sim"; }
uint8_t UpdateClass::getError() { return 0; }
bool UpdateClass::hasError() { return false; }
namespace {
esp_partition_t g_app0 = {nullptr, 0, 0x10, 0x10000, 0x1E0000, "app0", false};
esp_partition_t g_app1 = {nullptr, 0, 0x11, 0x1F0000, 0x1E0000, "app1", false};
}  // namespace
const esp_partition_t* esp_ota_get_running_partition(void) { return &g_app0; }
const esp_partition_t* esp_ota_get_next_update_partition(const esp_partition_t*) {
    g_app1.size = sim::ota().partition_size;
    return &g_app1;
}
esp_err_t esp_ota_get_state_partition(const esp_partition_t*, esp_ota_img_states_t* ota_state) {
    *ota_state = static_cast<esp_ota_img_states_t>(sim::ota().running_state);
    return ESP_OK;
}
esp_err_t esp_ota_mark_app_valid_cancel_rollback(void) {
    sim::ota().marked_valid = true;
    sim::ota().running_state = ESP_OTA_IMG_VALID;
    return ESP_OK;
}

// ---- WiFi ----------------------------------------------------------------------------------
WiFiClass WiFi;
bool WiFiGenericClass::mode(wifi_mode_t m) {
    sim::Wifi& w = sim::wifi();
    if (m == WIFI_MODE_STA && !w.sta_started) {
        w.sta_started = true;
        w.interface_hostname = w.pending_hostname;
    }
    return true;
}
bool WiFiGenericClass::setSleep(bool) { return true; }
bool WiFiGenericClass::setHostname(const char* hostname) {
    sim::wifi().pending_hostname = hostname;
    return true;
}
const char* WiFiGenericClass::getHostname() { return sim::wifi().pending_hostname.c_str(); }
int WiFiGenericClass::hostByName(const char* host, IPAddress& result) {
    sim::Net& n = sim::net();
    if (result.fromString(host)) return 1;
    if (!n.dns_answers) {
        sim::advance_ms(15000);
        return 0;
    }
    sim::advance_ms(n.dns_ms);
    result = IPAddress(10, 0, 0, 20);
    return 1;
}

wl_status_t WiFiSTAClass::begin(const char*, const char*, int32_t, const uint8_t*, bool) {
    sim::Wifi& w = sim::wifi();
    ++w.begins;
    w.joining = true;
    w.connected = false;
    w.join_started_us = sim::now_us();
    return WL_DISCONNECTED;
}
bool WiFiSTAClass::reconnect() { return true; }
bool WiFiSTAClass::disconnect(bool, bool) {
    sim::Wifi& w = sim::wifi();
    ++w.disconnects;
    if (w.joining) ++w.joins_aborted;
    w.joining = false;
    w.connected = false;
    return true;
}
bool WiFiSTAClass::isConnected() { return status() == WL_CONNECTED; }
bool WiFiSTAClass::setAutoReconnect(bool) { return true; }
IPAddress WiFiSTAClass::localIP() { return IPAddress(192, 168, 1, 50); }
uint8_t* WiFiSTAClass::macAddress(uint8_t* mac) {
    const uint8_t fixed[6] = {0xa0, 0xb7, 0x65, 0x0c, 0x1d, 0xfe};
    std::memcpy(mac, fixed, 6);
    return mac;
}
int8_t WiFiSTAClass::RSSI() { return static_cast<int8_t>(sim::wifi().rssi); }
wl_status_t WiFiSTAClass::status() {
    sim::update_wifi();
    if (sim::wifi().connected) return WL_CONNECTED;
    return sim::wifi().joining ? WL_IDLE_STATUS : WL_DISCONNECTED;
}

// ---- WiFiClient / WiFiClientSecure ---------------------------------------------------------
// One server at a time: both client classes talk to sim::net().
namespace {
int tcp_connect(uint32_t timeout_ms) {
    sim::Net& n = sim::net();
    ++n.connects;
    if (!n.server_answers_syn) {
        sim::advance_ms(timeout_ms);
        return 0;
    }
    sim::advance_ms(n.connect_ms);
    return 1;
}
}  // namespace

WiFiClient::WiFiClient() = default;
WiFiClient::~WiFiClient() = default;
int WiFiClient::connect(IPAddress ip, uint16_t port) { return connect(ip, port, 3000); }
int WiFiClient::connect(IPAddress, uint16_t, int32_t timeout) {
    sim::Net& n = sim::net();
    n.plain_timeout_ms = timeout;
    n.sent.clear();
    n.response_offset = 0;
    n.answered = false;
    n.open = tcp_connect(static_cast<uint32_t>(timeout)) == 1;
    return n.open ? 1 : 0;
}
int WiFiClient::connect(const char* host, uint16_t port) { return connect(host, port, 3000); }
int WiFiClient::connect(const char* host, uint16_t port, int32_t timeout) {
    IPAddress ip;
    if (!WiFi.hostByName(host, ip)) return 0;
    return connect(ip, port, timeout);
}
size_t WiFiClient::write(uint8_t data) { return write(&data, 1); }
size_t WiFiClient::write(const uint8_t* buf, size_t size) {
    sim::Net& n = sim::net();
    if (!n.open) return 0;
    n.sent.append(reinterpret_cast<const char*>(buf), size);
    return size;
}
namespace {
// A scripted ingest answers once the whole request is in (the firmware reads only after sending).
void answer_if_scripted() {
    sim::Net& n = sim::net();
    if (n.open && n.answer && !n.answered) {
        n.answered = true;
        n.response = n.answer(n.sent);
        n.response_offset = 0;
    }
}
}  // namespace
int WiFiClient::available() {
    answer_if_scripted();
    sim::Net& n = sim::net();
    return n.open ? static_cast<int>(n.response.size() - n.response_offset) : 0;
}
int WiFiClient::read() {
    uint8_t c;
    return read(&c, 1) == 1 ? c : -1;
}
int WiFiClient::read(uint8_t* buf, size_t size) {
    answer_if_scripted();
    sim::Net& n = sim::net();
    size_t left = n.response.size() - n.response_offset;
    size_t count = std::min(size, left);
    std::memcpy(buf, n.response.data() + n.response_offset, count);
    n.response_offset += count;
    return static_cast<int>(count);
}
int WiFiClient::peek() { return -1; }
void WiFiClient::flush() {}
void WiFiClient::stop() {
    sim::Net& n = sim::net();
    if (n.open && !n.sent.empty()) {
        n.requests.push_back(n.sent);
        n.request_ms.push_back(sim::now_ms());
    }
    n.open = false;
}
uint8_t WiFiClient::connected() {
    answer_if_scripted();
    sim::Net& n = sim::net();
    return n.open && n.response_offset < n.response.size() ? 1 : 0;
}
WiFiClient::operator bool() { return connected() != 0; }
int WiFiClient::setNoDelay(bool) { return 0; }
int WiFiClient::setTimeout(uint32_t seconds) {
    sim::net().plain_timeout_ms = static_cast<int32_t>(seconds * 1000);
    return 0;
}

WiFiClientSecure::WiFiClientSecure() = default;
WiFiClientSecure::~WiFiClientSecure() = default;
int WiFiClientSecure::connect(IPAddress ip, uint16_t port) {
    return connect(ip, port, nullptr, sim::net().ca_cert.c_str(), nullptr, nullptr);
}
int WiFiClientSecure::connect(IPAddress ip, uint16_t port, int32_t timeout) {
    sim::net().tls_timeout_ms = static_cast<uint32_t>(timeout);
    return connect(ip, port);
}
int WiFiClientSecure::connect(const char* host, uint16_t port) {
    IPAddress ip;
    if (!WiFi.hostByName(host, ip)) return 0;
    return connect(ip, port, host, sim::net().ca_cert.c_str(), nullptr, nullptr);
}
int WiFiClientSecure::connect(const char* host, uint16_t port, int32_t timeout) {
    sim::net().tls_timeout_ms = static_cast<uint32_t>(timeout);
    return connect(host, port);
}
int WiFiClientSecure::connect(IPAddress, uint16_t, const char* host, const char* CA_cert,
                              const char*, const char*) {
    sim::Net& n = sim::net();
    n.sni_host = host != nullptr ? host : "";
    n.ca_cert = CA_cert != nullptr ? CA_cert : "";
    n.sent.clear();
    n.response_offset = 0;
    n.open = false;
    if (tcp_connect(n.tls_timeout_ms) != 1) return 0;
    if (!n.server_finishes_handshake) {
        // ssl_client.cpp: the handshake loop checks handshake_timeout between socket reads,
        // each of which may block for the socket timeout.
        sim::advance_ms(n.tls_handshake_timeout_ms + n.tls_timeout_ms);
        return 0;
    }
    sim::advance_ms(n.handshake_ms);
    n.open = true;
    return 1;
}
size_t WiFiClientSecure::write(uint8_t data) { return WiFiClient::write(data); }
size_t WiFiClientSecure::write(const uint8_t* buf, size_t size) { return WiFiClient::write(buf, size); }
int WiFiClientSecure::available() { return WiFiClient::available(); }
int WiFiClientSecure::read() { return WiFiClient::read(); }
int WiFiClientSecure::read(uint8_t* buf, size_t size) { return WiFiClient::read(buf, size); }
int WiFiClientSecure::peek() { return -1; }
void WiFiClientSecure::flush() {}
void WiFiClientSecure::stop() { WiFiClient::stop(); }
uint8_t WiFiClientSecure::connected() { return WiFiClient::connected(); }
int WiFiClientSecure::lastError(char*, const size_t) { return 0; }
void WiFiClientSecure::setInsecure() {}
void WiFiClientSecure::setCACert(const char* rootCA) { sim::net().ca_cert = rootCA; }
void WiFiClientSecure::setHandshakeTimeout(unsigned long seconds) {
    sim::net().tls_handshake_timeout_ms = static_cast<uint32_t>(seconds * 1000);
}
int WiFiClientSecure::setTimeout(uint32_t seconds) {
    sim::net().tls_timeout_ms = seconds * 1000;
    return 0;
}

// ---- WebServer (the glue's /capture and /status; host tests never call it) -----------------
#include <WebServer.h>

Uri::Uri(const char*) {}
Uri::Uri(const String&) {}
Uri::~Uri() = default;
WebServer::WebServer(int) {}
WebServer::~WebServer() = default;
void WebServer::begin() {}
void WebServer::handleClient() {}
void WebServer::on(const Uri&, THandlerFunction) {}
void WebServer::on(const Uri&, HTTPMethod, THandlerFunction) {}
void WebServer::onNotFound(THandlerFunction) {}
void WebServer::send(int, const char*, const String&) {}
void WebServer::sendHeader(const String&, const String&, bool) {}
