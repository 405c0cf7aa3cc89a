// camcloud::FrameSource reading a JPEG file in camera-sized pieces, with no stdio buffer.
#pragma once

#include <cstdint>

#include "camcloud/upload.h"

namespace camcloud {

class FileFrameSource : public FrameSource {
public:
    ~FileFrameSource() override;
    FileFrameSource() = default;
    FileFrameSource(const FileFrameSource&) = delete;
    FileFrameSource& operator=(const FileFrameSource&) = delete;

    // Opens path; false when it cannot be read, is empty or is over 4 GiB.
    bool open(const char* path);
    uint32_t size() const { return size_; }
    // Back to the first byte, for a retry.
    bool rewind();
    uint8_t read(uint8_t* buffer, uint8_t max) override;

private:
    int fd_ = -1;
    uint32_t size_ = 0;
};

}  // namespace camcloud
