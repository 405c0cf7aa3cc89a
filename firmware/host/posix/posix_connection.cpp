#include "posix_connection.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace camcloud {

namespace {

bool wait_for(int fd, short events, uint32_t timeout_ms) {
    pollfd p{fd, events, 0};
    while (true) {
        int n = ::poll(&p, 1, static_cast<int>(timeout_ms));
        if (n > 0) return true;
        if (n == 0 || errno != EINTR) return false;
    }
}

bool connect_with_timeout(int fd, const sockaddr* address, socklen_t length, uint32_t timeout_ms) {
    int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(fd, address, length);
    if (rc != 0 && errno != EINPROGRESS) return false;
    if (rc != 0) {
        if (!wait_for(fd, POLLOUT, timeout_ms)) return false;
        int error = 0;
        socklen_t error_length = sizeof error;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_length) != 0 || error != 0) {
            return false;
        }
    }
    ::fcntl(fd, F_SETFL, flags);
    return true;
}

}  // namespace

bool PosixConnection::connect(const char* host, uint16_t port) {
    close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char service[8];
    std::snprintf(service, sizeof service, "%u", static_cast<unsigned>(port));
    addrinfo* found = nullptr;
    if (::getaddrinfo(host, service, &hints, &found) != 0) return false;
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (send_buffer_ > 0) {
            ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer_, sizeof send_buffer_);
        }
        if (connect_with_timeout(fd, a->ai_addr, a->ai_addrlen, timeout_ms_)) {
            fd_ = fd;
            break;
        }
        ::close(fd);
    }
    ::freeaddrinfo(found);
    return fd_ >= 0;
}

long PosixConnection::write(const uint8_t* data, size_t len) {
    if (fd_ < 0) return -1;
    while (true) {
        if (!wait_for(fd_, POLLOUT, timeout_ms_)) return -1;
        // MSG_DONTWAIT: take what fits in the socket buffer now, like a WiFiClient write.
        ssize_t n = ::send(fd_, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return static_cast<long>(n);
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    }
}

long PosixConnection::read(uint8_t* data, size_t len) {
    if (fd_ < 0) return -1;
    while (true) {
        if (!wait_for(fd_, POLLIN, timeout_ms_)) return -1;
        ssize_t n = ::recv(fd_, data, len, 0);
        if (n >= 0) return static_cast<long>(n);
        if (errno == ECONNRESET) return 0;
        if (errno != EINTR && errno != EAGAIN) return -1;
    }
}

void PosixConnection::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

}  // namespace camcloud
