#include "camcloud/wall_clock.h"

namespace camcloud {

void WallClock::on_sync(uint32_t now_ms, int64_t unix_now) {
    if (unix_now < kEarliestPlausibleUnix) return;
    synced_ = true;
    sync_ms_ = now_ms;
    sync_unix_ = unix_now;
}

int64_t WallClock::unix_at(uint32_t at_ms) const {
    if (!synced_) return -1;
    // Signed: a capture taken before the sync lies in the past of the anchor (millis() wraps
    // after 49 days; 24 days either side of the anchor stay exact).
    int32_t delta_ms = static_cast<int32_t>(at_ms - sync_ms_);
    int64_t unix_ms = sync_unix_ * 1000 + delta_ms;
    return unix_ms >= 0 ? unix_ms / 1000 : -1;
}

int64_t CaptureTime::for_attempt(const WallClock& clock) {
    if (!fixed_) {
        unix_s_ = clock.unix_at(at_ms_);
        fixed_ = true;
    }
    return unix_s_;
}

void WakeRules::on_wifi_up(uint32_t now_ms) {
    if (wifi_up_) return;
    wifi_up_ = true;
    wifi_up_ms_ = now_ms;
}

bool WakeRules::ntp_wait_over(uint32_t now_ms) const {
    return wifi_up_ && now_ms - wifi_up_ms_ >= ntp_wait_ms_;
}

bool WakeRules::may_upload(uint32_t now_ms, bool clock_trusted) const {
    return wifi_up_ && (clock_trusted || ntp_wait_over(now_ms));
}

bool WakeRules::may_sleep(uint32_t now_ms, bool clock_trusted, uint32_t frames_waiting) const {
    if (budget_spent(now_ms)) return true;
    return frames_waiting == 0 && (clock_trusted || ntp_wait_over(now_ms));
}

}  // namespace camcloud
