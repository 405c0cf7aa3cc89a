// Host stand-ins for the camera's flash: an OTA partition as a file, the config in a small file.
#pragma once

#include <cstdio>
#include <string>

#include "camcloud/ota.h"
#include "camcloud/remote.h"

namespace camcloud {

// The inactive OTA partition and the boot switch: the image is written to "<path>.partial" and
// renamed over <path> only by finish(), after the core verified it. A process killed mid-write
// (power lost) leaves <path>, the image that boots, untouched.
class FileFlashWriter : public FlashWriter {
public:
    explicit FileFlashWriter(std::string path) : path_(std::move(path)) {}
    ~FileFlashWriter() override;
    FileFlashWriter(const FileFlashWriter&) = delete;
    FileFlashWriter& operator=(const FileFlashWriter&) = delete;

    bool begin(uint32_t size) override;
    bool write(const uint8_t* data, size_t len) override;
    bool finish() override;
    void abort() override;

    const std::string& path() const { return path_; }
    std::string partial_path() const { return path_ + ".partial"; }

private:
    std::string path_;
    std::FILE* file_ = nullptr;
    uint32_t size_ = 0;
    uint32_t written_ = 0;
};

// The last good config as key=value lines (the glue keeps it in Preferences instead).
class FileConfigStore : public ConfigStore {
public:
    explicit FileConfigStore(std::string path) : path_(std::move(path)) {}
    bool load(DeviceConfig& config) override;
    bool save(const DeviceConfig& config) override;

private:
    std::string path_;
};

}  // namespace camcloud
