// camcloud::Connection over a POSIX TCP socket, for camcloud-uploader and the host tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "camcloud/upload.h"

namespace camcloud {

class PosixConnection : public Connection {
public:
    // timeout_ms bounds the connect and every read or write; send_buffer > 0 shrinks SO_SNDBUF
    // (tests use it to force short writes).
    explicit PosixConnection(uint32_t timeout_ms = 15000, int send_buffer = 0)
        : timeout_ms_(timeout_ms), send_buffer_(send_buffer) {}
    ~PosixConnection() override { close(); }
    PosixConnection(const PosixConnection&) = delete;
    PosixConnection& operator=(const PosixConnection&) = delete;

    bool connect(const char* host, uint16_t port) override;
    long write(const uint8_t* data, size_t len) override;
    long read(uint8_t* data, size_t len) override;
    void close() override;

private:
    int fd_ = -1;
    uint32_t timeout_ms_;
    int send_buffer_;
};

}  // namespace camcloud
