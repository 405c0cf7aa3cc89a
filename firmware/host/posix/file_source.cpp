#include "file_source.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace camcloud {

FileFrameSource::~FileFrameSource() {
    if (fd_ >= 0) ::close(fd_);
}

bool FileFrameSource::open(const char* path) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return false;
    struct stat info {};
    if (::fstat(fd_, &info) != 0 || info.st_size <= 0 || info.st_size > 0xffffffffLL) {
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    size_ = static_cast<uint32_t>(info.st_size);
    return true;
}

bool FileFrameSource::rewind() { return fd_ >= 0 && ::lseek(fd_, 0, SEEK_SET) == 0; }

uint8_t FileFrameSource::read(uint8_t* buffer, uint8_t max) {
    if (fd_ < 0) return 0;
    while (true) {
        ssize_t n = ::read(fd_, buffer, max);
        if (n >= 0) return static_cast<uint8_t>(n);
        if (errno != EINTR) return 0;
    }
}

}  // namespace camcloud
