// The desired state the ingest sends in every answer (protocol v1.1, docs/device-management.md):
// the settings model with the server's ranges, and a step-by-step JSON reader that fills fixed
// structs byte by byte as the body arrives (portable: no Arduino.h, no heap).
#pragma once

#include <cstddef>
#include <cstdint>

#include "camcloud/response.h"

namespace camcloud {

// ---- settings -------------------------------------------------------------------------------

// The Arducam Mega modes the 3MP sensor supports, by the server's names ("qxga" ...); the value
// is the driver's CAM_IMAGE_MODE.
struct ImageModeName {
    const char* name;
    uint8_t value;
};
const ImageModeName* find_image_mode(const char* name);            // nullptr when unknown
const char* image_mode_name(uint8_t value);                         // nullptr when unknown
int jpeg_quality_level(const char* name);                           // 0 high, 1 default, 2 low; -1

constexpr uint32_t kIntervalMin = 5, kIntervalMax = 86400;  // camcloud/device_config.py
constexpr uint32_t kCheckinMin = 10, kCheckinMax = 86400;
constexpr int64_t kConfigVersionMax = 0x7fffffff;

// The settings the camera runs with (kept in flash). version 0: never set by the server.
struct DeviceConfig {
    int32_t version = 0;
    uint32_t interval_s = 300;
    uint8_t image_mode = 0x08;  // CAM_IMAGE_MODE_QXGA
    uint8_t jpeg_quality = 1;   // DEFAULT_QUALITY
    bool pir = false;
    bool battery_mode = false;
    bool has_active_hours = false;  // false: capture all day
    uint16_t active_start_min = 0;  // inside the window
    uint16_t active_end_min = 0;    // first minute outside it
    uint32_t checkin_s = 60;
};

bool operator==(const DeviceConfig& a, const DeviceConfig& b);
inline bool operator!=(const DeviceConfig& a, const DeviceConfig& b) { return !(a == b); }

// "HH:MM-HH:MM", 24-hour, start != end; false when malformed.
bool parse_active_hours(const char* text, uint16_t& start_min, uint16_t& end_min);
// Whether a capture may happen at this local minute of the day (0..1439); a window may wrap
// midnight. minute_of_day < 0 (no clock yet) counts as inside: a camera without SNTP still works.
bool in_active_hours(const DeviceConfig& config, int minute_of_day);

// ---- the state object as received -----------------------------------------------------------

constexpr size_t kCommandIdCapacity = 17;      // 1-16 of [a-z0-9]
constexpr size_t kMaxCommands = 8;             // the server keeps at most 8 pending
constexpr size_t kOfferUrlCapacity = 1025;     // a presigned S3 GET with a session token
constexpr size_t kVersionCapacity = 33;        // at most 32 characters

// The config fields as sent; each has_* says the field came with a value of the right JSON type.
struct ConfigUpdate {
    bool present = false;
    bool has_version = false, has_interval = false, has_image_mode = false, has_quality = false,
         has_pir = false, has_battery = false, has_hours = false, has_checkin = false;
    int64_t version = -1;
    int64_t interval_s = -1;
    int64_t checkin_s = -1;
    char image_mode[12] = {0};
    char jpeg_quality[12] = {0};
    bool pir = false;
    bool battery_mode = false;
    bool hours_null = false;  // "active_hours": null, all day
    char active_hours[16] = {0};
    bool overflow = false;  // a string field longer than any valid value
};

struct CaptureCommand {
    char id[kCommandIdCapacity] = {0};
};

struct FirmwareOffer {
    bool present = false;   // a complete offer with every field
    bool overflow = false;  // a field did not fit (a URL over 1024 characters): refused
    bool has_size = false, has_force = false;
    char version[kVersionCapacity] = {0};
    char url[kOfferUrlCapacity] = {0};
    uint32_t size = 0;
    char sha256[65] = {0};
    char signature[129] = {0};
    bool force = false;
};

struct DeviceState {
    bool present = false;   // the answer had a "state" object
    bool complete = false;  // ... and the body was read to its end: only then is it acted on
    ConfigUpdate config;
    CaptureCommand commands[kMaxCommands];
    size_t command_count = 0;
    size_t commands_dropped = 0;  // malformed or beyond kMaxCommands
    FirmwareOffer firmware;
};

// Reads a JSON answer byte by byte: the top-level fields the upload needs (duplicate, queued,
// error, id) into a ResponseBody, and "state" into a DeviceState. Unknown fields and nesting are
// skipped; strings longer than their field are cut and flagged, never written past it.
class StateJsonReader : public BodySink {
public:
    // state may be null: only the top-level fields are read.
    StateJsonReader(ResponseBody& body, DeviceState* state);
    void feed(const uint8_t* data, size_t len);
    bool on_body(const uint8_t* data, size_t len) override {
        feed(data, len);
        return true;
    }
    // The root object closed cleanly (a truncated body never acts on its state).
    bool finished() const { return finished_; }
    bool failed() const { return failed_; }

private:
    enum class Ctx : uint8_t { root, state, config, commands, command, firmware, other };
    enum class Slot : uint8_t {
        none, duplicate, queued, error, id, state, config, commands, firmware,
        cfg_version, cfg_interval, cfg_mode, cfg_quality, cfg_pir, cfg_battery, cfg_hours,
        cfg_checkin, cmd_id, cmd_type, fw_version, fw_url, fw_size, fw_sha256, fw_signature,
        fw_force,
    };
    enum class Mode : uint8_t { value, key, colon, after_value, string, escape, unicode, scalar };
    static constexpr size_t kMaxDepth = 16;

    void step(char c);
    void start_value(char c);
    void end_value();
    void close_container();
    Slot key_slot() const;
    void string_target(char*& out, size_t& capacity, bool*& overflow);
    void finish_scalar();
    void finish_string();

    ResponseBody& body_;
    DeviceState* state_;
    Ctx stack_[kMaxDepth] = {};
    bool is_array_[kMaxDepth] = {};
    size_t depth_ = 0;
    Mode mode_ = Mode::value;
    bool in_key_ = false;
    Slot slot_ = Slot::none;
    char key_[16] = {0};
    size_t key_len_ = 0;
    bool key_overflow_ = false;
    char scalar_[24] = {0};
    size_t scalar_len_ = 0;
    bool scalar_overflow_ = false;
    char* str_out_ = nullptr;
    size_t str_cap_ = 0;
    size_t str_len_ = 0;
    bool* str_overflow_ = nullptr;
    uint8_t unicode_left_ = 0;
    bool started_ = false;
    bool finished_ = false;
    bool failed_ = false;
    CaptureCommand command_;  // the command object being read
    bool command_capture_ = false;
    bool command_overflow_ = false;
    char command_type_[12] = {0};
};

// Whether a command id is 1-16 of [a-z0-9] (anything else is not echoed back in a header).
bool is_valid_command_id(const char* id);

}  // namespace camcloud
