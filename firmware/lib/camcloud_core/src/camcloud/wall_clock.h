// The camera's idea of the time, and battery mode's rules for one wake (portable: no Arduino.h).
//
// After deep sleep the ESP32's clock is the RTC's, which drifts by several percent over the
// sleep; before the first SNTP reply after a boot or a wake it cannot date a capture. Captures
// are therefore stamped with millis() (the main crystal, accurate while awake) and dated once an
// SNTP reply has anchored millis() to Unix time. A capture the clock never got to date is sent
// without X-Captured-At: the ingest then uses its own receive time and records that it did.
#pragma once

#include <cstdint>

namespace camcloud {

// SNTP replies before 2020 are not believed (a server that has no time itself).
constexpr int64_t kEarliestPlausibleUnix = 1577836800;

class WallClock {
public:
    // An SNTP reply set the time to unix_now at monotonic time now_ms (millis()).
    void on_sync(uint32_t now_ms, int64_t unix_now);
    // True once an SNTP reply has come since this boot or wake.
    bool trusted() const { return synced_; }
    // Unix seconds at monotonic time at_ms (earlier or later than the sync), -1 when untrusted.
    int64_t unix_at(uint32_t at_ms) const;

private:
    bool synced_ = false;
    uint32_t sync_ms_ = 0;
    int64_t sync_unix_ = 0;
};

// When a frame was taken, and the one X-Captured-At that every upload attempt of it sends.
//
// The ingest names a stored capture by its capture time: a retry that sent another time than an
// attempt the ingest already stored (the answer lost) would look like a new capture. So the
// time (or its absence) is fixed once: at the capture when the clock was trusted then, else at
// the first upload attempt, dated from the SNTP reply if one has come by then and undated for
// good if not. A later SNTP reply, or a re-sync that moves the anchor by a second, changes
// nothing for a frame already fixed.
class CaptureTime {
public:
    CaptureTime() = default;
    // A capture at monotonic time at_ms; unix_s is the clock's time then (-1 when untrusted).
    CaptureTime(int64_t unix_s, uint32_t at_ms)
        : unix_s_(unix_s < 0 ? -1 : unix_s), at_ms_(at_ms), fixed_(unix_s >= 0) {}
    // X-Captured-At for an upload attempt in Unix seconds, -1 for none. The first call fixes
    // it; every later call returns the same value, whatever the clock says by then.
    int64_t for_attempt(const WallClock& clock);
    bool fixed() const { return fixed_; }
    // The fixed value (-1: undated, or not fixed yet).
    int64_t unix_s() const { return unix_s_; }
    uint32_t at_ms() const { return at_ms_; }

private:
    int64_t unix_s_ = -1;
    uint32_t at_ms_ = 0;
    bool fixed_ = false;
};

// When to upload and when to go back to sleep, for one wake (battery mode) or one boot.
class WakeRules {
public:
    // ntp_wait_ms: how long after WiFi comes up an upload waits for the SNTP reply;
    // awake_budget_ms: the longest time awake per wake, whatever happens.
    WakeRules(uint32_t ntp_wait_ms, uint32_t awake_budget_ms)
        : ntp_wait_ms_(ntp_wait_ms), awake_budget_ms_(awake_budget_ms) {}
    // The wake (or boot) started at millis() = now_ms.
    void on_wake(uint32_t now_ms) { woke_ms_ = now_ms; }
    // WiFi came up (the first time counts).
    void on_wifi_up(uint32_t now_ms);
    // Upload once the clock can date the capture, or once its SNTP wait has run out.
    bool may_upload(uint32_t now_ms, bool clock_trusted) const;
    // Sleep once nothing waits and the SNTP reply came (or its wait ran out), so the RTC is set
    // right for the next wake; or when the awake budget is spent, whatever still waits.
    bool may_sleep(uint32_t now_ms, bool clock_trusted, uint32_t frames_waiting) const;
    bool budget_spent(uint32_t now_ms) const { return now_ms - woke_ms_ >= awake_budget_ms_; }

private:
    bool ntp_wait_over(uint32_t now_ms) const;

    uint32_t ntp_wait_ms_;
    uint32_t awake_budget_ms_;
    uint32_t woke_ms_ = 0;
    bool wifi_up_ = false;
    uint32_t wifi_up_ms_ = 0;
};

}  // namespace camcloud
