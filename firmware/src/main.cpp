// camcloud camera firmware: ESP32 / ESP32-S3 + Arducam Mega 3MP on SPI, speaking the device
// upload protocol (top-level README, "Device protocol"). Everything that can be tested on a PC
// lives in lib/camcloud_core; this file wires it to the hardware.
#include <Arduino.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <esp_sleep.h>
#include <esp_sntp.h>
#include <esp_system.h>
#include <esp_task_wdt.h>

#include <atomic>
#include <cstring>

#include "app_config.h"
#include "camcloud/capture_id.h"
#include "camcloud/device_state.h"
#include "camcloud/frame_ring.h"
#include "camcloud/remote.h"
#include "camcloud/request.h"
#include "camcloud/retry.h"
#include "camcloud/upload.h"
#include "camcloud/wall_clock.h"
#include "camera.h"
#include "identity.h"
#include "ota_update.h"
#include "settings_store.h"
#include "status.h"
#include "telemetry.h"
#include "triggers.h"
#include "wifi_connection.h"
#include "wifi_link.h"

// The TLS handshake (mbedTLS) runs on the loop task: the default 8 KiB is tight for it plus the
// upload's printf and parser frames.
SET_LOOP_TASK_STACK_SIZE(16 * 1024);

namespace {

constexpr uint32_t kResponseTimeoutMs = 20000;
// The compiled default; the remote config's battery_mode can change it at run time.
constexpr bool kBatteryModeCompiled = CAMCLOUD_DEEP_SLEEP_S > 0;
// How long after WiFi comes up an upload waits for the SNTP reply that dates its capture.
constexpr uint32_t kNtpWaitMs = 8000;

// Battery mode: losses survive deep sleep so the next upload still reports them.
RTC_DATA_ATTR uint32_t rtc_frames_lost = 0;

DeviceStatus g_status;
camcloud::UploadUrl g_url;
bool g_url_ok = false;
// Not a global object: Arducam_Mega's constructor calls SPI.begin(), and C++ leaves open whether
// a global here is built before the core's global SPI object, whose constructor would then wipe
// the bus set-up (SPI reads 0x00: "camera not found" forever). Built on first use, in setup().
Camera& camera() {
    static Camera instance(CAMCLOUD_CAMERA_CS_PIN);
    return instance;
}
WifiLink g_wifi(CAMCLOUD_WIFI_SSID, CAMCLOUD_WIFI_PASSWORD, CAMCLOUD_HOSTNAME);
Identity g_identity;
Triggers g_triggers(CAMCLOUD_TRIGGER_HTTP_PORT, CAMCLOUD_PIR_PIN,
                    static_cast<uint32_t>(CAMCLOUD_TRIGGER_MIN_GAP_S) * 1000UL, g_status);
// The upload's buffers (about 2 KiB, whatever the frame size) live here, not on the loop task's
// stack.
camcloud::Uploader g_uploader;
camcloud::FrameRing g_ring(nullptr, 0);
camcloud::RetryPolicy g_policy;
WiFiClient g_plain_client;
WiFiClientSecure g_tls_client;
camcloud::WallClock g_clock;
camcloud::WakeRules g_rules(kNtpWaitMs, static_cast<uint32_t>(CAMCLOUD_AWAKE_BUDGET_S) * 1000UL);

// Remote settings (protocol v1.1): config.h gives the defaults, the ingest's state overrides them.
camcloud::DeviceConfig compiled_config() {
    camcloud::DeviceConfig c;
    c.version = 0;
    // In battery mode the interval is the sleep between wakes.
    c.interval_s = kBatteryModeCompiled ? static_cast<uint32_t>(CAMCLOUD_DEEP_SLEEP_S)
                                        : static_cast<uint32_t>(CAMCLOUD_CAPTURE_INTERVAL_S);
    c.image_mode = static_cast<uint8_t>(CAMCLOUD_IMAGE_MODE);
    c.jpeg_quality = 1;  // DEFAULT_QUALITY, what the driver starts with
    c.pir = CAMCLOUD_PIR_PIN >= 0;
    c.battery_mode = kBatteryModeCompiled;
    c.checkin_s = static_cast<uint32_t>(CAMCLOUD_CHECKIN_S);
    return c;
}
PreferencesConfigStore g_settings_store;
camcloud::RemoteControl g_remote(g_settings_store, compiled_config());
// The answer's state (1.5 KiB with a presigned firmware URL): static, read as the bytes arrive.
camcloud::DeviceState g_state;
OtaAgent g_ota;
bool g_triggers_started = false;
uint32_t g_next_command_ms = 0;

bool battery_mode() { return g_remote.config().battery_mode; }

// The SNTP reply arrives on lwIP's task; the loop picks it up.
std::atomic<bool> g_sync_pending(false);
volatile int64_t g_sync_unix = 0;
volatile uint32_t g_sync_ms = 0;

void on_time_sync(struct timeval* tv) {
    g_sync_unix = static_cast<int64_t>(tv->tv_sec);
    g_sync_ms = millis();
    g_sync_pending = true;
}

// Without PSRAM a frame stays in the camera's FIFO: it can wait there for the network as long
// as none of it has been read (no new capture overwrites it meanwhile).
struct FifoFrame {
    bool waiting;
    char capture_id[camcloud::kCaptureIdSize];
    camcloud::CaptureTime time;  // its X-Captured-At, fixed at the first attempt
    uint32_t size;
    uint32_t attempts;
};
FifoFrame g_fifo = {};

uint32_t g_next_capture_ms = 0;
uint32_t g_next_upload_ms = 0;
bool g_wake_capture_done = false;

// Unix seconds now, -1 until an SNTP reply since this boot or wake (never the drifting RTC's).
int64_t now_unix() { return g_clock.unix_at(millis()); }

// The minute of the day for active hours (UTC: the firmware has no time zone setting), -1 until
// SNTP answered.
int minute_of_day() {
    int64_t now = now_unix();
    return now < 0 ? -1 : static_cast<int>((now % 86400) / 60);
}

void apply_camera_settings() {
    const camcloud::DeviceConfig& c = g_remote.config();
    camera().set_mode(static_cast<CAM_IMAGE_MODE>(c.image_mode));
    camera().set_quality(c.jpeg_quality);
}

// Acts on the state of an answer (upload or check-in): config, capture commands, firmware offer.
void act_on_state() {
    if (!g_state.complete) return;
    uint32_t interval_before = g_remote.config().interval_s;
    camcloud::ConfigApply applied = g_remote.on_state(g_state);
    if (applied.applied) {
        const camcloud::DeviceConfig& c = g_remote.config();
        char refused[96];
        camcloud::refused_field_names(applied.refused, refused, sizeof refused);
        // config.h may name a mode the server does not offer (a 5MP one): no name for it.
        const char* mode = camcloud::image_mode_name(c.image_mode);
        CAMCLOUD_LOG("config %ld applied: every %lu s, %s, check-in %lu s%s%s",
                     static_cast<long>(c.version), static_cast<unsigned long>(c.interval_s),
                     mode != nullptr ? mode : "config.h's mode", static_cast<unsigned long>(c.checkin_s),
                     refused[0] != '\0' ? "; kept the last good " : "", refused);
        apply_camera_settings();
        if (c.interval_s != interval_before) g_next_capture_ms = millis() + c.interval_s * 1000UL;
        if (!c.battery_mode && !g_triggers_started) {
            g_triggers.begin();
            g_triggers_started = true;
        }
    }
}

// An update offered by the last answer, once nothing waits that a reboot would lose (frames in
// PSRAM, capture-now commands). Every answer carries the offer again, with a fresh URL.
void install_offered_update() {
    camcloud::FirmwareOffer& offer = g_state.firmware;
    if (!g_state.complete || !(offer.present || offer.overflow)) return;
    if (g_status.frames_waiting > 0 || g_remote.pending_count() > 0) return;
    g_ota.on_offer(offer, g_remote);  // reboots on success
    offer.present = offer.overflow = false;  // acted on; the next answer brings it again
}

// An answer came back for a request that carried the report-back headers.
void on_answer(const camcloud::UploadResult& result) {
    if (result.error != camcloud::TransportError::none || result.status < 200 || result.status >= 300) {
        return;
    }
    if (result.report_sent) g_remote.report_delivered();
    g_remote.answered(millis());
}

bool reached(uint32_t now_ms, uint32_t at_ms) { return static_cast<int32_t>(now_ms - at_ms) >= 0; }

void update_waiting() {
    g_status.frames_waiting = static_cast<uint32_t>(g_ring.count()) + (g_fifo.waiting ? 1U : 0U);
}

void count_lost(uint32_t frames, const char* why) {
    g_status.frames_lost += frames;
    CAMCLOUD_LOG("lost %lu frame(s): %s (lost since boot: %lu)", static_cast<unsigned long>(frames),
                 why, static_cast<unsigned long>(g_status.frames_lost));
}

// Takes a picture; command (may be null) is the capture-now command it answers.
void capture_frame(const char* reason, const char* command = nullptr) {
    if (!camera().ready()) return;
    if (g_fifo.waiting) {
        CAMCLOUD_LOG("capture skipped (%s): the last frame still waits in the camera", reason);
        return;
    }
    uint32_t size = camera().capture();
    if (size == 0) {
        CAMCLOUD_LOG("camera: capture failed");
        return;
    }
    ++g_status.captures;
    char id[camcloud::kCaptureIdSize];
    g_identity.next_capture_id(id, sizeof id);
    // Reported with the next request: "X-Commands-Done: <command>=<this capture>".
    if (command != nullptr) g_remote.command_done(command, id);
    uint32_t captured_ms = millis();
    int64_t captured_at = now_unix();
    CAMCLOUD_LOG("capture %s: %lu bytes (%s)%s", id, static_cast<unsigned long>(size), reason,
                 captured_at < 0 ? ", dated once SNTP answers" : "");

    uint32_t evicted = 0;
    uint8_t* slot = g_ring.reserve(size, id, captured_at, &evicted, captured_ms);
    if (evicted > 0) count_lost(evicted, "PSRAM full, oldest dropped");
    if (slot != nullptr) {
        // FIFO -> PSRAM in SPI bursts of at most 255 bytes; uploads and retries read PSRAM.
        CameraFifoSource fifo(camera().device());
        uint32_t copied = 0;
        while (copied < size) {
            uint32_t left = size - copied;
            uint8_t n = fifo.read(slot + copied, left < camcloud::kMaxSourceRead
                                                     ? static_cast<uint8_t>(left)
                                                     : camcloud::kMaxSourceRead);
            if (n == 0) break;
            copied += n;
        }
        if (copied == size) {
            g_ring.commit();
        } else {
            count_lost(1, "the camera's FIFO ended early");
        }
    } else {
        g_fifo.waiting = true;
        std::strncpy(g_fifo.capture_id, id, sizeof g_fifo.capture_id - 1);
        g_fifo.time = camcloud::CaptureTime(captured_at, captured_ms);
        g_fifo.size = size;
        g_fifo.attempts = 0;
    }
    update_waiting();
}

void upload_next() {
    camcloud::StoredFrame* kept = g_ring.oldest();
    if ((kept == nullptr && !g_fifo.waiting) || !g_url_ok) return;

    camcloud::MemoryFrameSource memory(kept != nullptr ? g_ring.data(*kept) : nullptr,
                                       kept != nullptr ? kept->size : 0);
    CameraFifoSource fifo(camera().device());
    camcloud::FrameSource& source =
        kept != nullptr ? static_cast<camcloud::FrameSource&>(memory) : fifo;
    uint32_t& attempts = kept != nullptr ? kept->attempts : g_fifo.attempts;
    const char* capture_id = kept != nullptr ? kept->capture_id : g_fifo.capture_id;
    camcloud::CaptureTime& time = kept != nullptr ? kept->time : g_fifo.time;

    camcloud::Telemetry telemetry = collect_telemetry(g_status);
    camcloud::UploadRequest request;
    request.url = &g_url;
    request.device_key = CAMCLOUD_DEVICE_KEY;
    request.device_id = CAMCLOUD_DEVICE_ID;
    request.capture_id = capture_id;
    // The time known at the capture, or counted back from the SNTP reply at the first attempt
    // (none if it has not come): every retry sends that same value, so a retry of an attempt
    // the ingest stored (the answer lost) is answered as its duplicate.
    request.captured_at = time.for_attempt(g_clock);
    request.content_length = kept != nullptr ? kept->size : g_fifo.size;
    request.user_agent = "camcloud-firmware/" CAMCLOUD_FIRMWARE_VERSION;
    request.telemetry = &telemetry;
    camcloud::Report report = g_remote.report();
    request.report = &report;

    WifiConnection plain(g_plain_client, kResponseTimeoutMs);
    WifiConnection tls(g_tls_client, CAMCLOUD_ROOT_CA, kResponseTimeoutMs);
    camcloud::Connection& connection = g_url.tls ? static_cast<camcloud::Connection&>(tls) : plain;
    uint32_t started = millis();
    camcloud::UploadResult result =
        g_uploader.upload(connection, source, request, now_unix(), &g_state);
    on_answer(result);
    camcloud::Decision decision =
        camcloud::decide(g_policy, attempts, result.error, result.status, result.retry_after_s,
                         result.body.duplicate, esp_random());
    g_status.last_status = result.status;
    CAMCLOUD_LOG("upload %s attempt %lu: %s %d%s%s -> %s (%lu ms)", capture_id,
                 static_cast<unsigned long>(attempts + 1),
                 camcloud::transport_error_name(result.error), result.status,
                 result.body.error[0] != '\0' ? " " : "", result.body.error,
                 camcloud::verdict_name(decision.verdict),
                 static_cast<unsigned long>(millis() - started));

    if (decision.verdict == camcloud::Verdict::retry) {
        ++attempts;
        g_next_upload_ms = millis() + decision.delay_ms;
        CAMCLOUD_LOG("next attempt in %lu s", static_cast<unsigned long>(decision.delay_ms / 1000));
        if (kept == nullptr && result.source_bytes > 0) {
            // The FIFO has been read: there is nothing left to send again.
            g_fifo.waiting = false;
            count_lost(1, "upload failed and the board has no PSRAM to keep the frame");
        }
    } else {
        if (decision.verdict == camcloud::Verdict::give_up) {
            ++g_status.frames_rejected;
        } else {
            ++g_status.uploaded;
        }
        if (kept != nullptr) {
            g_ring.pop_oldest();
        } else {
            g_fifo.waiting = false;
        }
        g_next_upload_ms = millis();  // drain what waits in PSRAM without delay
    }
    update_waiting();
    if (result.error == camcloud::TransportError::none &&
        (result.status == 201 || result.status == 200)) {
        g_ota.on_upload_stored(g_remote);  // a new image has shown it can upload
    }
    act_on_state();
}

// GET /device/state: how a config change or capture-now reaches a camera between captures.
void check_in() {
    camcloud::Telemetry telemetry = collect_telemetry(g_status);
    camcloud::Report report = g_remote.report();
    camcloud::StateRequest request;
    request.url = &g_url;
    request.device_key = CAMCLOUD_DEVICE_KEY;
    request.device_id = CAMCLOUD_DEVICE_ID;
    request.user_agent = "camcloud-firmware/" CAMCLOUD_FIRMWARE_VERSION;
    request.telemetry = &telemetry;
    request.report = &report;
    WifiConnection plain(g_plain_client, kResponseTimeoutMs);
    WifiConnection tls(g_tls_client, CAMCLOUD_ROOT_CA, kResponseTimeoutMs);
    camcloud::Connection& connection = g_url.tls ? static_cast<camcloud::Connection&>(tls) : plain;
    camcloud::UploadResult result = g_uploader.check_in(connection, request, now_unix(), &g_state);
    g_status.last_status = result.status;
    CAMCLOUD_LOG("check-in: %s %d", camcloud::transport_error_name(result.error), result.status);
    on_answer(result);
    if (result.error != camcloud::TransportError::none || result.status < 200 || result.status >= 300) {
        g_remote.answered(millis());  // not before the next period, even when it failed
        return;
    }
    act_on_state();
}

[[noreturn]] void go_to_sleep() {
    if (g_status.frames_waiting > 0) count_lost(g_status.frames_waiting, "deep sleep clears PSRAM");
    rtc_frames_lost = g_status.frames_lost;
    uint32_t sleep_s = g_remote.config().interval_s > 0 ? g_remote.config().interval_s
                                                        : static_cast<uint32_t>(CAMCLOUD_DEEP_SLEEP_S);
    CAMCLOUD_LOG("sleeping %lu s", static_cast<unsigned long>(sleep_s));
    Serial.flush();
    // The module stays powered through deep sleep; Camera::begin() leaves low power after the wake.
    camera().sleep();
    esp_sleep_enable_timer_wakeup(static_cast<uint64_t>(sleep_s) * 1000000ULL);
    if (CAMCLOUD_PIR_PIN >= 0 && g_remote.config().pir) {
        esp_sleep_enable_ext0_wakeup(static_cast<gpio_num_t>(CAMCLOUD_PIR_PIN), 1);
    }
    esp_deep_sleep_start();
}

}  // namespace

void setup() {
    Serial.begin(115200);
    esp_reset_reason_t reset = esp_reset_reason();
    g_status.reset_reason = reset_reason_name(reset);
    bool woke = reset == ESP_RST_DEEPSLEEP;

    // The core may have started the task watchdog already; either way the loop task joins it.
    esp_task_wdt_init(CAMCLOUD_WATCHDOG_S, true);
    esp_task_wdt_add(nullptr);

    g_wifi.begin();
    g_identity.begin(woke);
    g_status.boot_count = g_identity.boot_count();
    g_remote.begin();  // the last good remote config from flash, else config.h's
    g_ota.begin(g_remote);
    if (battery_mode()) g_status.frames_lost = rtc_frames_lost;
    CAMCLOUD_LOG("boot %lu, reset reason %s, firmware %s",
                 static_cast<unsigned long>(g_status.boot_count), g_status.reset_reason,
                 CAMCLOUD_FIRMWARE_VERSION);

    g_url_ok = camcloud::parse_upload_url(CAMCLOUD_UPLOAD_URL, g_url);
    if (!g_url_ok) CAMCLOUD_LOG("config: CAMCLOUD_UPLOAD_URL is not an http(s):// URL");
    if (g_url_ok && g_url.tls) {
        if (std::strlen(CAMCLOUD_ROOT_CA) == 0) {
            CAMCLOUD_LOG("config: https:// needs CAMCLOUD_ROOT_CA; not uploading");
            g_url_ok = false;
        }
    }

    if (psramFound()) {
        // Sized from what is free: a 2 MB PSRAM part cannot hold a 2 MiB ring.
        uint32_t ring_bytes = camcloud::ring_bytes_for(
            ESP.getMaxAllocPsram(), static_cast<uint32_t>(CAMCLOUD_PSRAM_RING_BYTES));
        void* arena = ring_bytes > 0 ? ps_malloc(ring_bytes) : nullptr;
        if (arena != nullptr) {
            g_ring = camcloud::FrameRing(static_cast<uint8_t*>(arena), ring_bytes);
        }
        CAMCLOUD_LOG("psram: %lu bytes, %lu free; %s %lu bytes",
                     static_cast<unsigned long>(ESP.getPsramSize()),
                     static_cast<unsigned long>(ESP.getFreePsram()),
                     arena != nullptr ? "failed frames are kept for retry in" : "no ring of",
                     static_cast<unsigned long>(ring_bytes));
    } else {
        CAMCLOUD_LOG("psram: none, a frame whose upload fails after sending starts is lost");
    }

    g_policy.base_ms = 2000;
    g_policy.cap_ms = battery_mode() ? 8000 : 5UL * 60UL * 1000UL;
    g_policy.max_attempts = battery_mode() ? 4 : 0;

    // Bounded: without a camera this logs "camera not found" and loop() probes again later.
    apply_camera_settings();
    camera().begin(camera().mode(), CAMCLOUD_WARMUP_FRAMES);
    if (!battery_mode()) {
        g_triggers.begin();
        g_triggers_started = true;
    }
    sntp_set_time_sync_notification_cb(on_time_sync);
    g_next_capture_ms = millis();  // the first capture right away
    g_rules.on_wake(millis());
}

void loop() {
    esp_task_wdt_reset();
    uint32_t now = millis();
    g_wifi.poll(now);
    if (g_wifi.take_connected_event()) {
        configTime(0, 0, CAMCLOUD_NTP_SERVER);
        g_rules.on_wifi_up(now);
    }
    if (g_sync_pending.exchange(false)) {
        if (!g_clock.trusted()) CAMCLOUD_LOG("time: SNTP answered");
        g_clock.on_sync(g_sync_ms, g_sync_unix);
    }
    if (camera().retry_due(now)) {
        camera().begin(camera().mode(), CAMCLOUD_WARMUP_FRAMES);
        now = millis();
    }

    const camcloud::DeviceConfig& config = g_remote.config();
    const char* reason = nullptr;
    if (battery_mode()) {
        // The wake's one picture, at once (a PIR wake is about this moment); it is dated when
        // SNTP answers. A camera that is not ready yet gets its next probes within the budget.
        if (!g_wake_capture_done && camera().ready()) {
            reason = "wake";
            g_wake_capture_done = true;
        }
    } else {
        if (g_triggers_started) {
            g_triggers.poll();
            reason = g_triggers.take(now);
        }
        if (reason != nullptr && std::strcmp(reason, "pir") == 0 && !config.pir) reason = nullptr;
        if (reason == nullptr && config.interval_s > 0 && reached(now, g_next_capture_ms)) {
            reason = "interval";
        }
        if (reason != nullptr) g_next_capture_ms = now + config.interval_s * 1000UL;
    }
    // Active hours hold back the automatic captures; an owner's own request (the camera's
    // /capture, capture now) is taken at any hour.
    if (reason != nullptr && std::strcmp(reason, "http") != 0 &&
        !camcloud::in_active_hours(config, minute_of_day())) {
        CAMCLOUD_LOG("capture skipped (%s): outside active hours", reason);
        reason = nullptr;
    }
    if (reason != nullptr) capture_frame(reason);

    char command[camcloud::kCommandIdCapacity];
    if (camera().ready() && reached(now, g_next_command_ms) && g_remote.pending_command(command)) {
        size_t pending_before = g_remote.pending_count();
        capture_frame("capture now", command);
        // A failed capture keeps the command; the next try waits a little.
        if (g_remote.pending_count() == pending_before) g_next_command_ms = millis() + 5000;
    }

    if (g_wifi.connected() && reached(now, g_next_upload_ms) &&
        g_rules.may_upload(millis(), g_clock.trusted())) {
        upload_next();
    }
    // While awake and nothing waits for an upload (whose answer carries the state as well).
    if (g_wifi.connected() && g_url_ok && g_status.frames_waiting == 0 &&
        g_remote.checkin_due(millis())) {
        check_in();
    }

    if (g_wifi.connected()) install_offered_update();

    // Not before the wake's picture was taken (or the budget is spent), its upload is done and
    // SNTP has answered (bounded), so the RTC starts the next sleep set right.
    // A capture-now that arrived with this wake's answer is taken first (unless the camera is
    // gone or the budget is spent: the command waits at the ingest for the next wake).
    bool command_waits = g_remote.pending_count() > 0 && camera().ready() &&
                         !g_rules.budget_spent(millis());
    if (battery_mode() && (g_wake_capture_done || g_rules.budget_spent(millis())) && !command_waits &&
        g_rules.may_sleep(millis(), g_clock.trusted(), g_status.frames_waiting)) {
        go_to_sleep();
    }
    delay(10);
}
