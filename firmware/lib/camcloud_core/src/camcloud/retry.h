// Retry schedule: exponential backoff with jitter and a cap, honouring Retry-After, and the
// verdict on every upload outcome (portable: no Arduino.h).
#pragma once

#include <cstdint>

namespace camcloud {

struct RetryPolicy {
    uint32_t base_ms = 2000;             // ceiling of the first retry's delay
    uint32_t cap_ms = 5UL * 60UL * 1000UL;  // no backoff delay is ever longer than this
    uint32_t retry_after_jitter_ms = 500;   // spread added on top of a server's Retry-After
    uint32_t max_retry_after_s = 3600;      // a larger Retry-After is clamped, never obeyed blindly
    uint32_t max_attempts = 0;              // 0: keep retrying (the frame waits in PSRAM)
};

// Delay before retry number `attempt` (0 = first retry) with "equal jitter": the delay lies in
// [ceiling / 2, ceiling] where ceiling = min(cap, base * 2^attempt), so cameras that failed
// together do not retry together and no camera retries sooner than half the schedule.
uint32_t backoff_delay_ms(const RetryPolicy& policy, uint32_t attempt, uint32_t random32);

// Delay before the next attempt: the server's Retry-After (clamped, plus a little jitter) when it
// sent one, the backoff schedule otherwise.
uint32_t retry_delay_ms(const RetryPolicy& policy, uint32_t attempt, int32_t retry_after_s,
                        uint32_t random32);

// Why an upload attempt ended without a complete HTTP response.
enum class TransportError : uint8_t {
    none = 0,
    bad_request,      // the request could not be built (URL, header too large): a configuration bug
    connect_failed,   // DNS, TCP or TLS handshake
    write_failed,     // the connection broke while sending
    source_ended,     // the camera delivered fewer bytes than Content-Length announced
    no_response,      // the connection closed or timed out before a full response
    bad_response,     // the bytes that came back were not HTTP
};

const char* transport_error_name(TransportError error);

enum class Verdict : uint8_t {
    stored,     // 201 (or another 2xx): the capture is in S3
    duplicate,  // 200 "duplicate": an earlier attempt already stored it
    queued,     // 202: the ingest spooled it durably; done from the camera's point of view
    retry,      // try again after delay_ms with the same capture id
    give_up,    // retrying cannot fix this (bad key, not a JPEG, too large, ...)
};

const char* verdict_name(Verdict verdict);

struct Decision {
    Verdict verdict;
    uint32_t delay_ms;  // only for Verdict::retry
};

// What to do after attempt number `attempt` (0 = first) ended with transport error `error` or
// HTTP status `status` (with its Retry-After, -1 when absent, and the body's duplicate flag).
Decision decide(const RetryPolicy& policy, uint32_t attempt, TransportError error, int status,
                int32_t retry_after_s, bool duplicate, uint32_t random32);

}  // namespace camcloud
