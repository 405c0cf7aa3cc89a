#include "camcloud/remote.h"

#include <cstdio>
#include <cstring>

namespace camcloud {

ConfigApply apply_config_update(const ConfigUpdate& update, DeviceConfig& config) {
    ConfigApply result;
    if (!update.present || !update.has_version || update.version <= 0 ||
        update.version > kConfigVersionMax || update.version == config.version) {
        return result;
    }
    DeviceConfig next = config;
    next.version = static_cast<int32_t>(update.version);
    if (update.has_interval && update.interval_s >= kIntervalMin &&
        update.interval_s <= kIntervalMax) {
        next.interval_s = static_cast<uint32_t>(update.interval_s);
    } else if (update.has_interval) {
        result.refused |= kFieldInterval;
    }
    if (update.has_checkin && update.checkin_s >= kCheckinMin && update.checkin_s <= kCheckinMax) {
        next.checkin_s = static_cast<uint32_t>(update.checkin_s);
    } else if (update.has_checkin) {
        result.refused |= kFieldCheckin;
    }
    if (update.has_image_mode) {
        const ImageModeName* mode = find_image_mode(update.image_mode);
        if (mode != nullptr) {
            next.image_mode = mode->value;
        } else {
            result.refused |= kFieldImageMode;
        }
    }
    if (update.has_quality) {
        int level = jpeg_quality_level(update.jpeg_quality);
        if (level >= 0) {
            next.jpeg_quality = static_cast<uint8_t>(level);
        } else {
            result.refused |= kFieldQuality;
        }
    }
    if (update.has_pir) next.pir = update.pir;
    if (update.has_battery) next.battery_mode = update.battery_mode;
    if (update.has_hours && update.hours_null) {
        next.has_active_hours = false;
        next.active_start_min = next.active_end_min = 0;
    } else if (update.has_hours) {
        uint16_t start = 0, end = 0;
        if (parse_active_hours(update.active_hours, start, end)) {
            next.has_active_hours = true;
            next.active_start_min = start;
            next.active_end_min = end;
        } else {
            result.refused |= kFieldActiveHours;
        }
    }
    DeviceConfig before = config;
    before.version = next.version;
    result.changed = before != next;
    result.applied = true;
    config = next;
    return result;
}

void refused_field_names(uint32_t refused, char* out, size_t out_size) {
    static const struct {
        uint32_t bit;
        const char* name;
    } kNames[] = {{kFieldInterval, "interval_s"},   {kFieldImageMode, "image_mode"},
                  {kFieldQuality, "jpeg_quality"},  {kFieldActiveHours, "active_hours"},
                  {kFieldCheckin, "checkin_s"}};
    if (out_size == 0) return;
    out[0] = '\0';
    size_t used = 0;
    for (const auto& entry : kNames) {
        if ((refused & entry.bit) == 0) continue;
        int n = std::snprintf(out + used, out_size - used, "%s%s", used > 0 ? "," : "", entry.name);
        if (n < 0 || static_cast<size_t>(n) >= out_size - used) return;
        used += static_cast<size_t>(n);
    }
}

RemoteControl::RemoteControl(ConfigStore& store, const DeviceConfig& compiled)
    : store_(store), config_(compiled) {}

void RemoteControl::begin() {
    DeviceConfig stored;
    if (store_.load(stored)) config_ = stored;
}

bool RemoteControl::known_command(const char* id) const {
    for (size_t i = 0; i < pending_count_; ++i) {
        if (std::strcmp(pending_[i].id, id) == 0) return true;
    }
    for (size_t i = 0; i < done_count_; ++i) {
        if (std::strcmp(done_[i].id, id) == 0) return true;
    }
    for (const CaptureCommand& recent : recent_) {
        if (std::strcmp(recent.id, id) == 0) return true;
    }
    return false;
}

ConfigApply RemoteControl::on_state(const DeviceState& state) {
    ConfigApply result;
    if (!state.complete) return result;
    DeviceConfig next = config_;
    result = apply_config_update(state.config, next);
    if (result.applied) {
        config_ = next;
        // A failed flash write still runs the new config until the next reboot; the version is
        // reported either way, as the camera did apply it.
        store_.save(config_);
    }
    for (size_t i = 0; i < state.command_count; ++i) {
        const char* id = state.commands[i].id;
        if (known_command(id) || pending_count_ == kMaxCommands) continue;
        pending_[pending_count_++] = state.commands[i];
    }
    return result;
}

bool RemoteControl::pending_command(char id[kCommandIdCapacity]) const {
    if (pending_count_ == 0) return false;
    std::memcpy(id, pending_[0].id, kCommandIdCapacity);
    return true;
}

void RemoteControl::command_done(const char* id, const char* capture_id) {
    for (size_t i = 0; i < pending_count_; ++i) {
        if (std::strcmp(pending_[i].id, id) != 0) continue;
        std::memmove(&pending_[i], &pending_[i + 1], (pending_count_ - i - 1) * sizeof pending_[0]);
        --pending_count_;
        break;
    }
    std::snprintf(recent_[recent_next_].id, kCommandIdCapacity, "%s", id);
    recent_next_ = (recent_next_ + 1) % kMaxCommands;
    if (!is_valid_command_id(id)) return;
    if (done_count_ == kMaxDone) {
        // The oldest report goes: the server keeps the command pending and lists it again, and
        // recent_ stops a second capture; the owner sees it pending rather than wrong.
        std::memmove(&done_[0], &done_[1], (kMaxDone - 1) * sizeof done_[0]);
        --done_count_;
        if (done_in_report_ > 0) --done_in_report_;
    }
    Done& done = done_[done_count_++];
    std::snprintf(done.id, sizeof done.id, "%s", id);
    done.capture_id[0] = '\0';
    if (capture_id != nullptr && std::strlen(capture_id) < sizeof done.capture_id) {
        std::snprintf(done.capture_id, sizeof done.capture_id, "%s", capture_id);
    }
}

void RemoteControl::set_ota_result(const char* result) {
    // The server cuts the reason at 64; so does the camera, so the header stays short.
    std::snprintf(ota_result_, sizeof ota_result_, "%.71s", result != nullptr ? result : "");
    ota_in_report_ = false;
}

Report RemoteControl::report() {
    Report report;
    report.config_version = config_.version > 0 ? config_.version : -1;
    size_t used = 0;
    done_header_[0] = '\0';
    for (size_t i = 0; i < done_count_; ++i) {
        int n = done_[i].capture_id[0] != '\0'
                    ? std::snprintf(done_header_ + used, sizeof done_header_ - used, "%s%s=%s",
                                    i > 0 ? "," : "", done_[i].id, done_[i].capture_id)
                    : std::snprintf(done_header_ + used, sizeof done_header_ - used, "%s%s",
                                    i > 0 ? "," : "", done_[i].id);
        if (n < 0 || static_cast<size_t>(n) >= sizeof done_header_ - used) break;
        used += static_cast<size_t>(n);
    }
    done_in_report_ = done_count_;
    report.commands_done = done_header_[0] != '\0' ? done_header_ : nullptr;
    report.ota_result = ota_result_[0] != '\0' ? ota_result_ : nullptr;
    ota_in_report_ = ota_result_[0] != '\0';
    return report;
}

void RemoteControl::report_delivered() {
    // Only what went out in that request: a command done meanwhile is reported next time.
    std::memmove(&done_[0], &done_[done_in_report_], (done_count_ - done_in_report_) * sizeof done_[0]);
    done_count_ -= done_in_report_;
    done_in_report_ = 0;
    if (ota_in_report_) ota_result_[0] = '\0';
    ota_in_report_ = false;
}

bool RemoteControl::checkin_due(uint64_t now_ms) const {
    if (!has_answer_) return true;
    return now_ms - last_answer_ms_ >= static_cast<uint64_t>(config_.checkin_s) * 1000u;
}

void RemoteControl::answered(uint64_t now_ms) {
    has_answer_ = true;
    last_answer_ms_ = now_ms;
}

}  // namespace camcloud
