// Remote settings and capture-now (protocol v1.1): applies the config the ingest sends, keeps the
// last good one in flash, queues capture commands, schedules check-ins and builds the report-back
// headers (portable: no Arduino.h, no heap).
#pragma once

#include <cstddef>
#include <cstdint>

#include "camcloud/device_state.h"
#include "camcloud/request.h"

namespace camcloud {

// Where the last good config lives: Preferences (NVS) on the camera, a file on the host.
class ConfigStore {
public:
    virtual ~ConfigStore() = default;
    // false when nothing (valid) is stored.
    virtual bool load(DeviceConfig& config) = 0;
    virtual bool save(const DeviceConfig& config) = 0;
};

// Bits of ConfigApply::refused: the fields that came with a value the camera does not accept.
enum ConfigField : uint32_t {
    kFieldInterval = 1u << 0,
    kFieldImageMode = 1u << 1,
    kFieldQuality = 1u << 2,
    kFieldActiveHours = 1u << 3,
    kFieldCheckin = 1u << 4,
};

struct ConfigApply {
    bool applied = false;   // a new version was taken (and its good fields applied)
    bool changed = false;   // some setting differs from before
    uint32_t refused = 0;   // ConfigField bits kept at their last good value
};

// The camera's rules (docs/device-management.md): version 0 or the version already applied
// changes nothing; otherwise every field is validated with the server's ranges, and a field that
// is missing, of the wrong type or out of range keeps its last good value, so no config can
// brick the camera (an interval of 0, an unknown image mode).
ConfigApply apply_config_update(const ConfigUpdate& update, DeviceConfig& config);

// Names of refused fields, comma-separated, for the log.
void refused_field_names(uint32_t refused, char* out, size_t out_size);

class RemoteControl {
public:
    // Done commands waiting to be reported; the header stays well inside the 1 KiB request head.
    static constexpr size_t kMaxDone = 4;
    static constexpr size_t kCaptureIdCapacity = 48;

    RemoteControl(ConfigStore& store, const DeviceConfig& compiled);

    // Loads the last good config from the store (else keeps the compiled one).
    void begin();
    const DeviceConfig& config() const { return config_; }

    // Acts on a complete state from an answer: applies and stores a new config, queues new
    // capture commands. An incomplete or absent state changes nothing.
    ConfigApply on_state(const DeviceState& state);

    // The oldest capture command not yet done; false when none waits.
    bool pending_command(char id[kCommandIdCapacity]) const;
    size_t pending_count() const { return pending_count_; }
    // The capture for command id was taken: report "id=capture_id" (capture_id may be null).
    void command_done(const char* id, const char* capture_id);
    // The outcome of an update attempt to report once ("ok", "failed:<reason>").
    void set_ota_result(const char* result);

    // The report-back headers for the next request; valid until the next call on this object.
    Report report();
    // An answer (2xx) came back for a request that carried report(): its items are delivered.
    void report_delivered();

    // Check-in scheduling while awake: every checkin_s, counted from the last answer (an upload's
    // answer carries the state too, so it counts).
    bool checkin_due(uint64_t now_ms) const;
    void answered(uint64_t now_ms);

private:
    bool known_command(const char* id) const;

    ConfigStore& store_;
    DeviceConfig config_;
    CaptureCommand pending_[kMaxCommands];
    size_t pending_count_ = 0;
    struct Done {
        char id[kCommandIdCapacity];
        char capture_id[kCaptureIdCapacity];
    };
    Done done_[kMaxDone] = {};
    size_t done_count_ = 0;
    size_t done_in_report_ = 0;
    // Ids already captured: the server lists a command until it has our report, so an answer in
    // between must not trigger a second capture.
    CaptureCommand recent_[kMaxCommands] = {};
    size_t recent_next_ = 0;
    char ota_result_[72] = {0};
    bool ota_in_report_ = false;
    char done_header_[kMaxDone * (kCommandIdCapacity + kCaptureIdCapacity + 1)] = {0};
    bool has_answer_ = false;
    uint64_t last_answer_ms_ = 0;
};

}  // namespace camcloud
