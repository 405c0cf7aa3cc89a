#include "file_flash.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace camcloud {

FileFlashWriter::~FileFlashWriter() {
    // Like power lost: the partial image stays where it is, the boot image is untouched.
    if (file_ != nullptr) std::fclose(file_);
}

bool FileFlashWriter::begin(uint32_t size) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::fopen(partial_path().c_str(), "wb");
    size_ = size;
    written_ = 0;
    return file_ != nullptr;
}

bool FileFlashWriter::write(const uint8_t* data, size_t len) {
    if (file_ == nullptr || len > size_ - written_) return false;
    if (std::fwrite(data, 1, len, file_) != len) return false;
    written_ += static_cast<uint32_t>(len);
    return true;
}

bool FileFlashWriter::finish() {
    if (file_ == nullptr || written_ != size_) return false;
    bool ok = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
    ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    // rename() is atomic: the boot image is the old one or the new one, never a mix.
    return ok && std::rename(partial_path().c_str(), path_.c_str()) == 0;
}

void FileFlashWriter::abort() {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    std::remove(partial_path().c_str());
}

bool FileConfigStore::load(DeviceConfig& config) {
    std::FILE* file = std::fopen(path_.c_str(), "r");
    if (file == nullptr) return false;
    DeviceConfig read;
    char line[96];
    int fields = 0;
    while (std::fgets(line, sizeof line, file) != nullptr) {
        char key[32];
        long long value = 0;
        if (std::sscanf(line, "%31[a-z_]=%lld", key, &value) != 2) continue;
        ++fields;
        if (std::strcmp(key, "version") == 0) read.version = static_cast<int32_t>(value);
        else if (std::strcmp(key, "interval_s") == 0) read.interval_s = static_cast<uint32_t>(value);
        else if (std::strcmp(key, "image_mode") == 0) read.image_mode = static_cast<uint8_t>(value);
        else if (std::strcmp(key, "jpeg_quality") == 0) read.jpeg_quality = static_cast<uint8_t>(value);
        else if (std::strcmp(key, "pir") == 0) read.pir = value != 0;
        else if (std::strcmp(key, "battery_mode") == 0) read.battery_mode = value != 0;
        else if (std::strcmp(key, "has_active_hours") == 0) read.has_active_hours = value != 0;
        else if (std::strcmp(key, "active_start_min") == 0) read.active_start_min = static_cast<uint16_t>(value);
        else if (std::strcmp(key, "active_end_min") == 0) read.active_end_min = static_cast<uint16_t>(value);
        else if (std::strcmp(key, "checkin_s") == 0) read.checkin_s = static_cast<uint32_t>(value);
        else --fields;
    }
    std::fclose(file);
    if (fields != 10) return false;  // a torn or foreign file: keep the compiled config
    config = read;
    return true;
}

bool FileConfigStore::save(const DeviceConfig& c) {
    std::string tmp = path_ + ".tmp";
    std::FILE* file = std::fopen(tmp.c_str(), "w");
    if (file == nullptr) return false;
    std::fprintf(file,
                 "version=%d\ninterval_s=%u\nimage_mode=%u\njpeg_quality=%u\npir=%d\n"
                 "battery_mode=%d\nhas_active_hours=%d\nactive_start_min=%u\nactive_end_min=%u\n"
                 "checkin_s=%u\n",
                 static_cast<int>(c.version), static_cast<unsigned>(c.interval_s),
                 static_cast<unsigned>(c.image_mode), static_cast<unsigned>(c.jpeg_quality),
                 c.pir ? 1 : 0, c.battery_mode ? 1 : 0, c.has_active_hours ? 1 : 0,
                 static_cast<unsigned>(c.active_start_min), static_cast<unsigned>(c.active_end_min),
                 static_cast<unsigned>(c.checkin_s));
    bool ok = std::fclose(file) == 0;
    return ok && std::rename(tmp.c_str(), path_.c_str()) == 0;
}

}  // namespace camcloud
