// Test doubles for the upload's two ends: a camera FIFO and a scripted connection.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "camcloud/upload.h"

namespace camcloud_test {

// A JPEG-looking frame of `size` bytes: SOI, a pattern, EOI.
inline std::vector<uint8_t> make_frame(size_t size) {
    std::vector<uint8_t> frame(size);
    for (size_t i = 0; i < size; ++i) frame[i] = static_cast<uint8_t>((i * 31 + 7) & 0xff);
    if (size >= 4) {
        frame[0] = 0xff;
        frame[1] = 0xd8;
        frame[size - 2] = 0xff;
        frame[size - 1] = 0xd9;
    }
    return frame;
}

// The camera's FIFO: hands out at most `max_read` bytes per read, and can run dry early.
class FakeCamera : public camcloud::FrameSource {
public:
    explicit FakeCamera(std::vector<uint8_t> frame, size_t ends_after = SIZE_MAX,
                        uint8_t max_read = 255)
        : frame_(std::move(frame)), ends_after_(ends_after), max_read_(max_read) {}

    uint8_t read(uint8_t* buffer, uint8_t max) override {
        ++reads;
        largest_request = std::max(largest_request, max);
        size_t limit = std::min(frame_.size(), ends_after_);
        size_t n = std::min<size_t>({max, max_read_, limit - offset_});
        std::copy(frame_.begin() + static_cast<long>(offset_),
                  frame_.begin() + static_cast<long>(offset_ + n), buffer);
        offset_ += n;
        return static_cast<uint8_t>(n);
    }

    size_t reads = 0;
    uint8_t largest_request = 0;

private:
    std::vector<uint8_t> frame_;
    size_t offset_ = 0;
    size_t ends_after_;
    uint8_t max_read_;
};

// A connection that takes at most `max_write` bytes per write and answers with `response`,
// or breaks in the ways networks break.
class ScriptedConnection : public camcloud::Connection {
public:
    bool connect(const char* host, uint16_t port) override {
        ++connects;
        connected_host = host;
        connected_port = port;
        open = refuse_connect ? false : true;
        return open;
    }
    long write(const uint8_t* data, size_t len) override {
        if (!open) return -1;
        if (fail_after_bytes >= 0 && sent.size() >= static_cast<size_t>(fail_after_bytes)) return -1;
        largest_write = std::max(largest_write, len);
        size_t n = std::min(len, max_write);
        sent.append(reinterpret_cast<const char*>(data), n);
        ++writes;
        return static_cast<long>(n);
    }
    long read(uint8_t* data, size_t len) override {
        if (!open) return -1;
        if (drop_before_response) return 0;
        if (response_offset >= response.size()) return timeout_at_end ? -1 : 0;
        size_t n = std::min({len, read_piece, response.size() - response_offset});
        std::copy(response.begin() + static_cast<long>(response_offset),
                  response.begin() + static_cast<long>(response_offset + n), data);
        response_offset += n;
        return static_cast<long>(n);
    }
    void close() override {
        if (open) ++closes;
        open = false;
    }

    // The bytes after the head's blank line.
    std::string body() const {
        size_t end = sent.find("\r\n\r\n");
        return end == std::string::npos ? std::string() : sent.substr(end + 4);
    }
    std::string head() const {
        size_t end = sent.find("\r\n\r\n");
        return end == std::string::npos ? sent : sent.substr(0, end + 4);
    }

    std::string response;
    size_t max_write = SIZE_MAX;
    size_t read_piece = SIZE_MAX;
    bool refuse_connect = false;
    bool drop_before_response = false;
    bool timeout_at_end = false;
    long fail_after_bytes = -1;

    std::string sent;
    std::string connected_host;
    uint16_t connected_port = 0;
    size_t response_offset = 0;
    size_t largest_write = 0;
    int connects = 0;
    int closes = 0;
    int writes = 0;
    bool open = false;
};

}  // namespace camcloud_test
