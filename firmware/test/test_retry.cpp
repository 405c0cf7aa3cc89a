// Retry schedule: backoff bounds and jitter, Retry-After, and which answers are worth a retry.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>

#include "camcloud/retry.h"

using namespace camcloud;

namespace {
RetryPolicy policy_1s_cap_60s() {
    RetryPolicy p;
    p.base_ms = 1000;
    p.cap_ms = 60000;
    p.retry_after_jitter_ms = 500;
    p.max_retry_after_s = 600;
    return p;
}
}  // namespace

TEST_SUITE("retry") {
    TEST_CASE("every backoff delay lies between half the ceiling and the ceiling") {
        RetryPolicy p = policy_1s_cap_60s();
        std::mt19937 random(7);
        for (uint32_t attempt = 0; attempt < 40; ++attempt) {
            uint64_t ceiling = std::min<uint64_t>(60000, attempt < 20 ? 1000ull << attempt : ~0ull);
            for (int i = 0; i < 200; ++i) {
                uint32_t delay = backoff_delay_ms(p, attempt, random());
                CHECK(delay >= ceiling / 2);
                CHECK(delay <= ceiling);
            }
            CHECK(backoff_delay_ms(p, attempt, 0) == ceiling / 2);
            CHECK(backoff_delay_ms(p, attempt, static_cast<uint32_t>(ceiling - ceiling / 2)) == ceiling);
        }
    }

    TEST_CASE("the ceiling doubles per attempt until the cap") {
        RetryPolicy p = policy_1s_cap_60s();
        uint32_t top = 0xffffffffu;
        CHECK(backoff_delay_ms(p, 0, top) <= 1000);
        CHECK(backoff_delay_ms(p, 1, 0) == 1000);
        CHECK(backoff_delay_ms(p, 2, 0) == 2000);
        CHECK(backoff_delay_ms(p, 5, 0) == 16000);
        CHECK(backoff_delay_ms(p, 6, 0) == 30000);   // 64 s ceiling is capped to 60 s
        CHECK(backoff_delay_ms(p, 1000, 0) == 30000);  // no overflow at absurd attempt counts
    }

    TEST_CASE("jitter spreads cameras that failed together across the window") {
        // Given 500 cameras whose upload failed at the same moment
        RetryPolicy p = policy_1s_cap_60s();
        std::mt19937 random(12345);
        std::set<uint32_t> delays;
        uint32_t lowest = 0xffffffffu, highest = 0;
        for (int camera = 0; camera < 500; ++camera) {
            uint32_t d = backoff_delay_ms(p, 3, random());
            delays.insert(d);
            lowest = std::min(lowest, d);
            highest = std::max(highest, d);
        }
        // Then their third retries are spread over most of [4 s, 8 s], not bunched together
        CHECK(delays.size() > 400);
        CHECK(lowest < 4400);
        CHECK(highest > 7600);
    }

    TEST_CASE("Retry-After is honoured: never sooner, a little jitter later") {
        RetryPolicy p = policy_1s_cap_60s();
        std::mt19937 random(3);
        for (int i = 0; i < 200; ++i) {
            uint32_t d = retry_delay_ms(p, 0, 30, random());
            CHECK(d >= 30000);
            CHECK(d <= 30500);
        }
        // Retry-After wins over a longer backoff too: the server knows when it has room again
        CHECK(retry_delay_ms(p, 10, 2, 0) == 2000);
        CHECK(retry_delay_ms(p, 0, 0, 0) == 0);
    }

    TEST_CASE("an absurd Retry-After is clamped") {
        RetryPolicy p = policy_1s_cap_60s();
        CHECK(retry_delay_ms(p, 0, 86400 * 365, 0) == 600000);
    }

    TEST_CASE("without Retry-After the backoff schedule applies") {
        RetryPolicy p = policy_1s_cap_60s();
        CHECK(retry_delay_ms(p, 2, -1, 0) == backoff_delay_ms(p, 2, 0));
    }

    TEST_CASE("success answers end the upload") {
        RetryPolicy p = policy_1s_cap_60s();
        CHECK(decide(p, 0, TransportError::none, 201, -1, false, 0).verdict == Verdict::stored);
        CHECK(decide(p, 0, TransportError::none, 200, -1, true, 0).verdict == Verdict::duplicate);
        CHECK(decide(p, 0, TransportError::none, 200, -1, false, 0).verdict == Verdict::stored);
        CHECK(decide(p, 0, TransportError::none, 202, -1, false, 0).verdict == Verdict::queued);
    }

    TEST_CASE("answers that retrying cannot fix give up at once") {
        RetryPolicy p = policy_1s_cap_60s();
        for (int status : {400, 401, 403, 404, 411, 413, 415, 301, 302}) {
            CAPTURE(status);
            CHECK(decide(p, 0, TransportError::none, status, -1, false, 0).verdict == Verdict::give_up);
        }
    }

    TEST_CASE("rate limits, a full spool and server errors are retried") {
        RetryPolicy p = policy_1s_cap_60s();
        Decision limited = decide(p, 0, TransportError::none, 429, 12, false, 0);
        CHECK(limited.verdict == Verdict::retry);
        CHECK(limited.delay_ms == 12000);
        Decision spool_full = decide(p, 4, TransportError::none, 503, 60, false, 0);
        CHECK(spool_full.verdict == Verdict::retry);
        CHECK(spool_full.delay_ms == 60000);
        for (int status : {408, 500, 502, 504}) {
            CAPTURE(status);
            CHECK(decide(p, 0, TransportError::none, status, -1, false, 0).verdict == Verdict::retry);
        }
    }

    TEST_CASE("network failures are retried, broken frames and requests are not") {
        RetryPolicy p = policy_1s_cap_60s();
        for (TransportError e : {TransportError::connect_failed, TransportError::write_failed,
                                 TransportError::no_response, TransportError::bad_response}) {
            CAPTURE(transport_error_name(e));
            Decision d = decide(p, 1, e, 0, -1, false, 0);
            CHECK(d.verdict == Verdict::retry);
            CHECK(d.delay_ms == 1000);
        }
        CHECK(decide(p, 0, TransportError::source_ended, 0, -1, false, 0).verdict == Verdict::give_up);
        CHECK(decide(p, 0, TransportError::bad_request, 0, -1, false, 0).verdict == Verdict::give_up);
    }

    TEST_CASE("max_attempts bounds the retries when set") {
        RetryPolicy p = policy_1s_cap_60s();
        p.max_attempts = 3;
        CHECK(decide(p, 0, TransportError::no_response, 0, -1, false, 0).verdict == Verdict::retry);
        CHECK(decide(p, 1, TransportError::none, 429, 1, false, 0).verdict == Verdict::retry);
        CHECK(decide(p, 2, TransportError::none, 429, 1, false, 0).verdict == Verdict::give_up);
    }
}
