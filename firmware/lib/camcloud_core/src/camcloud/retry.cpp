#include "camcloud/retry.h"

namespace camcloud {

uint32_t backoff_delay_ms(const RetryPolicy& policy, uint32_t attempt, uint32_t random32) {
    uint64_t ceiling = policy.base_ms;
    for (uint32_t i = 0; i < attempt && ceiling < policy.cap_ms; ++i) ceiling *= 2;
    if (ceiling > policy.cap_ms) ceiling = policy.cap_ms;
    uint64_t half = ceiling / 2;
    uint64_t spread = ceiling - half;  // delay = half + [0, spread]
    return static_cast<uint32_t>(half + (spread == 0 ? 0 : random32 % (spread + 1)));
}

uint32_t retry_delay_ms(const RetryPolicy& policy, uint32_t attempt, int32_t retry_after_s,
                        uint32_t random32) {
    if (retry_after_s < 0) return backoff_delay_ms(policy, attempt, random32);
    uint32_t seconds = static_cast<uint32_t>(retry_after_s);
    if (seconds > policy.max_retry_after_s) seconds = policy.max_retry_after_s;
    uint32_t jitter = policy.retry_after_jitter_ms == 0
                          ? 0
                          : random32 % (policy.retry_after_jitter_ms + 1);
    return seconds * 1000U + jitter;
}

const char* transport_error_name(TransportError error) {
    switch (error) {
        case TransportError::none: return "none";
        case TransportError::bad_request: return "bad_request";
        case TransportError::connect_failed: return "connect_failed";
        case TransportError::write_failed: return "write_failed";
        case TransportError::source_ended: return "source_ended";
        case TransportError::no_response: return "no_response";
        case TransportError::bad_response: return "bad_response";
    }
    return "unknown";
}

const char* verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::stored: return "stored";
        case Verdict::duplicate: return "duplicate";
        case Verdict::queued: return "queued";
        case Verdict::retry: return "retry";
        case Verdict::give_up: return "give_up";
    }
    return "unknown";
}

static Decision retry_or_give_up(const RetryPolicy& policy, uint32_t attempt, int32_t retry_after_s,
                                 uint32_t random32) {
    if (policy.max_attempts != 0 && attempt + 1 >= policy.max_attempts) {
        return Decision{Verdict::give_up, 0};
    }
    return Decision{Verdict::retry, retry_delay_ms(policy, attempt, retry_after_s, random32)};
}

Decision decide(const RetryPolicy& policy, uint32_t attempt, TransportError error, int status,
                int32_t retry_after_s, bool duplicate, uint32_t random32) {
    switch (error) {
        case TransportError::none: break;
        // A broken build of the request or a frame cut short by the camera fails the same way
        // every time: sending it again only burns battery.
        case TransportError::bad_request:
        case TransportError::source_ended: return Decision{Verdict::give_up, 0};
        default: return retry_or_give_up(policy, attempt, -1, random32);
    }
    if (status == 202) return Decision{Verdict::queued, 0};
    if (status == 200) return Decision{duplicate ? Verdict::duplicate : Verdict::stored, 0};
    if (status >= 200 && status < 300) return Decision{Verdict::stored, 0};
    // 408 and 429 are the client errors that time heals; 5xx (503 spool full, a proxy's 502) too.
    if (status == 408 || status == 429 || status >= 500) {
        return retry_or_give_up(policy, attempt, retry_after_s, random32);
    }
    // 400 not a JPEG, 401 bad key, 403 revoked, 411, 413 too large, 415, and redirects (a wrong
    // URL): the same bytes would get the same answer.
    return Decision{Verdict::give_up, 0};
}

}  // namespace camcloud
