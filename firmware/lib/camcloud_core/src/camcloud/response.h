// Incremental HTTP/1.1 response parsing into a fixed buffer, and what the ingest's JSON says
// (portable: no Arduino.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace camcloud {

// Seconds from a Retry-After value: delta-seconds ("120") or an IMF-fixdate
// ("Wed, 21 Oct 2026 07:28:00 GMT", relative to now_unix, 0 when already past).
// -1 when the value is neither, or a date arrives while the camera has no clock (now_unix < 0).
int32_t parse_retry_after(const char* value, int64_t now_unix);

// The facts the camera needs from a response body (device protocol: upload responses are JSON).
struct ResponseBody {
    bool duplicate = false;  // "duplicate": true
    bool queued = false;     // "queued": true
    char error[40] = {0};    // "error": "<code>", empty when absent
    char id[72] = {0};       // "id": the stored capture's id, empty when absent
};

// Reads the top-level fields of a JSON object; unknown fields, nesting and escapes are skipped,
// a truncated or malformed body leaves whatever was read before the damage.
void parse_response_body(const char* json, size_t len, ResponseBody& body);

// Where body bytes go as they arrive (after de-chunking): a JSON reader, a firmware image's
// flash writer. The parser still keeps the first kBodyCapacity bytes for logs.
class BodySink {
public:
    virtual ~BodySink() = default;
    // The head is complete; false stops reading (the response then counts as failed).
    virtual bool on_head(int /*status*/, int64_t /*content_length*/) { return true; }
    // Some body bytes; false stops reading.
    virtual bool on_body(const uint8_t* data, size_t len) = 0;
};

class ResponseParser {
public:
    // Only this many body bytes are kept: the ingest's answers are a few hundred bytes.
    static constexpr size_t kBodyCapacity = 640;
    static constexpr size_t kLineCapacity = 160;

    // now_unix: the camera's clock for a dated Retry-After, -1 when unknown.
    explicit ResponseParser(int64_t now_unix = -1);

    // Body bytes also go to sink (may be null); set before the first feed().
    void set_sink(BodySink* sink) { sink_ = sink; }
    // Consumes bytes from the connection; returns false once the response is malformed.
    bool feed(const uint8_t* data, size_t len);
    // The peer closed the connection: a body delimited by the close is complete now.
    void on_close();

    bool complete() const { return state_ == State::done; }
    bool failed() const { return state_ == State::failed; }
    int status() const { return status_; }
    int32_t retry_after_s() const { return retry_after_s_; }
    const char* body() const { return body_; }
    size_t body_length() const { return body_len_; }

private:
    enum class State : uint8_t {
        status_line, header_line, body_length, body_until_close, chunk_size, chunk_data,
        chunk_data_end, chunk_trailer, done, failed,
    };
    bool take_line(uint8_t c);  // true once line_ holds a whole line
    bool on_status_line();
    bool on_header_line();
    bool keep_body(const uint8_t* data, size_t len);
    bool head_done();

    State state_ = State::status_line;
    int64_t now_unix_;
    int status_ = 0;
    int32_t retry_after_s_ = -1;
    int64_t content_length_ = -1;
    bool chunked_ = false;
    size_t head_bytes_ = 0;
    uint64_t remaining_ = 0;  // of the body or of the current chunk
    char line_[kLineCapacity] = {0};
    size_t line_len_ = 0;
    bool line_overflow_ = false;
    char body_[kBodyCapacity + 1] = {0};
    size_t body_len_ = 0;
    BodySink* sink_ = nullptr;
};

}  // namespace camcloud
