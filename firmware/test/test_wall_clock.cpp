// Dating captures with an SNTP-anchored millis() clock, and battery mode's wake rules, on a
// simulated millisecond clock.
#include <doctest/doctest.h>

#include "camcloud/wall_clock.h"

using camcloud::WakeRules;
using camcloud::WallClock;

namespace {
constexpr int64_t kSyncUnix = 1767225606;  // 2026-01-01T00:00:06Z
constexpr uint32_t kNtpWaitMs = 8000;
constexpr uint32_t kBudgetMs = 45000;
}  // namespace

TEST_SUITE("wall clock") {
    TEST_CASE("a capture taken before the SNTP reply is dated from it, not from the RTC") {
        // Given a capture at 50 ms after the wake, and an SNTP reply at 6200 ms
        WallClock clock;
        CHECK_FALSE(clock.trusted());
        CHECK(clock.unix_at(50) == -1);
        clock.on_sync(6200, kSyncUnix);
        // Then the capture is dated 6.15 s before the reply
        CHECK(clock.trusted());
        CHECK(clock.unix_at(50) == kSyncUnix - 7);  // 1767225599.85 s, whole seconds
        CHECK(clock.unix_at(6200) == kSyncUnix);
        CHECK(clock.unix_at(16200) == kSyncUnix + 10);
    }

    TEST_CASE("an SNTP answer before 2020 does not make the clock trusted") {
        WallClock clock;
        clock.on_sync(1000, 86400);
        CHECK_FALSE(clock.trusted());
        CHECK(clock.unix_at(1000) == -1);
    }

    TEST_CASE("dates stay exact across a millis() wrap") {
        WallClock clock;
        clock.on_sync(0xfffff000u, kSyncUnix);
        CHECK(clock.unix_at(0x00001000u) == kSyncUnix + 8);  // 8192 ms later, past the wrap
    }
}

TEST_SUITE("battery wake rules") {
    TEST_CASE("the upload waits for the SNTP reply, and sleep comes only after it") {
        // Given a wake at 0, WiFi up at 4.5 s
        WakeRules rules(kNtpWaitMs, kBudgetMs);
        rules.on_wake(0);
        CHECK_FALSE(rules.may_upload(100, false));
        rules.on_wifi_up(4500);
        // When no SNTP reply has come yet, the capture waits
        CHECK_FALSE(rules.may_upload(5000, false));
        CHECK_FALSE(rules.may_sleep(5000, false, 0));
        // When it comes at 6.2 s, the upload goes, and once it is done the camera may sleep
        CHECK(rules.may_upload(6200, true));
        CHECK_FALSE(rules.may_sleep(6300, true, 1));
        CHECK(rules.may_sleep(7000, true, 0));
    }

    TEST_CASE("an SNTP reply that never comes delays the upload by at most the wait, then undated") {
        WakeRules rules(kNtpWaitMs, kBudgetMs);
        rules.on_wake(0);
        rules.on_wifi_up(4500);
        WallClock clock;  // never synced
        CHECK_FALSE(rules.may_upload(12499, clock.trusted()));
        CHECK(rules.may_upload(12500, clock.trusted()));
        CHECK(clock.unix_at(50) == -1);  // sent without X-Captured-At: the ingest's time is used
        CHECK_FALSE(rules.may_sleep(12499, false, 0));
        CHECK(rules.may_sleep(12500, false, 0));
    }

    TEST_CASE("with nothing to upload the camera still waits (bounded) for the SNTP reply") {
        // So the RTC is set right before the next, long sleep
        WakeRules rules(kNtpWaitMs, kBudgetMs);
        rules.on_wake(0);
        CHECK_FALSE(rules.may_sleep(3000, false, 0));  // WiFi not up yet
        rules.on_wifi_up(3000);
        CHECK_FALSE(rules.may_sleep(4000, false, 0));
        CHECK(rules.may_sleep(4000, true, 0));
    }

    TEST_CASE("the awake budget ends the wake whatever still waits") {
        WakeRules rules(kNtpWaitMs, kBudgetMs);
        rules.on_wake(1000);
        CHECK_FALSE(rules.may_sleep(45999, false, 2));
        CHECK(rules.may_sleep(46000, false, 2));
        CHECK(rules.budget_spent(46000));
    }
}
