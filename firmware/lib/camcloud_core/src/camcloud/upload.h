// One upload attempt streamed from a frame source to a connection through one small buffer
// (portable: no Arduino.h, no heap).
#pragma once

#include <cstddef>
#include <cstdint>

#include "camcloud/device_state.h"
#include "camcloud/request.h"
#include "camcloud/response.h"
#include "camcloud/retry.h"

namespace camcloud {

// The Arducam Mega's readBuff takes a uint8_t length: a camera read is at most 255 bytes.
constexpr uint8_t kMaxSourceRead = 255;
// The one buffer an upload owns: request head, body chunks and response bytes all pass through it.
constexpr size_t kIoBufferSize = 1024;

// Where the JPEG comes from: the camera's FIFO, a frame kept in PSRAM, a file on the host.
class FrameSource {
public:
    virtual ~FrameSource() = default;
    // Copies up to max bytes into buffer; returns how many, 0 when the frame has ended.
    virtual uint8_t read(uint8_t* buffer, uint8_t max) = 0;
};

// A byte stream to the ingest: WiFiClient / WiFiClientSecure on the camera, a socket on the host.
class Connection {
public:
    virtual ~Connection() = default;
    virtual bool connect(const char* host, uint16_t port) = 0;
    // Sends up to len bytes; returns how many were taken (short writes are fine), <= 0 on failure.
    virtual long write(const uint8_t* data, size_t len) = 0;
    // Receives up to len bytes; returns how many, 0 when the peer closed, < 0 on error or timeout.
    virtual long read(uint8_t* data, size_t len) = 0;
    virtual void close() = 0;
};

// A frame already in memory (PSRAM ring, tests), read in camera-sized pieces.
class MemoryFrameSource : public FrameSource {
public:
    MemoryFrameSource(const uint8_t* data, uint32_t size) : data_(data), size_(size) {}
    uint8_t read(uint8_t* buffer, uint8_t max) override;
    void rewind() { offset_ = 0; }

private:
    const uint8_t* data_;
    uint32_t size_;
    uint32_t offset_ = 0;
};

struct UploadResult {
    TransportError error = TransportError::none;
    int status = 0;              // HTTP status when error == none
    int32_t retry_after_s = -1;  // Retry-After, -1 when absent
    ResponseBody body;           // the JSON's duplicate / queued / error / id
    uint32_t source_bytes = 0;   // bytes taken from the source: 0 means the frame is still intact
    uint32_t head_bytes = 0;     // size of the request head that was sent
    // The request carried its report-back headers (a head too long with them goes without:
    // the report waits for the next request rather than costing the frame).
    bool report_sent = false;
};

class Uploader {
public:
    // Sends request (its Content-Length announces exactly request.content_length bytes, which
    // the source must deliver), then reads the response. Never allocates; the connection is
    // closed when this returns. now_unix dates a Retry-After given as an HTTP date (-1: unknown).
    // state (may be null) receives the answer's "state", read as the bytes arrive.
    UploadResult upload(Connection& connection, FrameSource& source, const UploadRequest& request,
                        int64_t now_unix = -1, DeviceState* state = nullptr);

    // A check-in (GET /device/state): the same answer handling as an upload, without an image.
    UploadResult check_in(Connection& connection, const StateRequest& request,
                          int64_t now_unix = -1, DeviceState* state = nullptr);

    // The response body of the last upload, for logs and the host uploader's output.
    const char* last_body() const { return last_body_; }

private:
    bool write_all(Connection& connection, const uint8_t* data, size_t len);
    // Reads the response into result and closes the connection; if_incomplete is the error
    // when no complete response arrives.
    UploadResult& finish(Connection& connection, int64_t now_unix, TransportError if_incomplete,
                         UploadResult& result, DeviceState* state);

    uint8_t io_[kIoBufferSize];
    char last_body_[ResponseParser::kBodyCapacity + 1] = {0};
};

}  // namespace camcloud
