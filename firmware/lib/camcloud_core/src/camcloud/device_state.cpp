#include "camcloud/device_state.h"

#include <cstring>

namespace camcloud {

namespace {

// camcloud/device_config.py IMAGE_MODES: the 3MP sensor's modes.
constexpr ImageModeName kImageModes[] = {
    {"96x96", 0x0a}, {"128x128", 0x0b}, {"320x320", 0x0c}, {"qvga", 0x01}, {"vga", 0x02},
    {"hd", 0x04},    {"uxga", 0x06},    {"fhd", 0x07},     {"qxga", 0x08},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// An integer JSON number ("300", "-1"); false for fractions, exponents and anything else.
bool parse_integer(const char* text, int64_t& value) {
    const char* p = text;
    bool negative = *p == '-';
    if (negative) ++p;
    if (!is_digit(*p)) return false;
    int64_t v = 0;
    for (; is_digit(*p); ++p) {
        v = v * 10 + (*p - '0');
        if (v > (int64_t{1} << 40)) v = int64_t{1} << 40;  // far beyond every range: refused later
    }
    if (*p != '\0') return false;
    value = negative ? -v : v;
    return true;
}

bool parse_bool(const char* text, bool& value) {
    if (std::strcmp(text, "true") == 0) {
        value = true;
        return true;
    }
    if (std::strcmp(text, "false") == 0) {
        value = false;
        return true;
    }
    return false;
}

bool read_hhmm(const char* p, uint16_t& minutes) {
    if (!is_digit(p[0]) || !is_digit(p[1]) || p[2] != ':' || !is_digit(p[3]) || !is_digit(p[4])) {
        return false;
    }
    int hour = (p[0] - '0') * 10 + (p[1] - '0');
    int minute = (p[3] - '0') * 10 + (p[4] - '0');
    if (hour > 23 || minute > 59) return false;
    minutes = static_cast<uint16_t>(hour * 60 + minute);
    return true;
}

}  // namespace

const ImageModeName* find_image_mode(const char* name) {
    if (name == nullptr) return nullptr;
    for (const ImageModeName& mode : kImageModes) {
        if (std::strcmp(mode.name, name) == 0) return &mode;
    }
    return nullptr;
}

const char* image_mode_name(uint8_t value) {
    for (const ImageModeName& mode : kImageModes) {
        if (mode.value == value) return mode.name;
    }
    return nullptr;
}

int jpeg_quality_level(const char* name) {
    if (name == nullptr) return -1;
    if (std::strcmp(name, "high") == 0) return 0;
    if (std::strcmp(name, "default") == 0) return 1;
    if (std::strcmp(name, "low") == 0) return 2;
    return -1;
}

bool operator==(const DeviceConfig& a, const DeviceConfig& b) {
    return a.version == b.version && a.interval_s == b.interval_s && a.image_mode == b.image_mode &&
           a.jpeg_quality == b.jpeg_quality && a.pir == b.pir && a.battery_mode == b.battery_mode &&
           a.has_active_hours == b.has_active_hours && a.active_start_min == b.active_start_min &&
           a.active_end_min == b.active_end_min && a.checkin_s == b.checkin_s;
}

bool parse_active_hours(const char* text, uint16_t& start_min, uint16_t& end_min) {
    if (text == nullptr || std::strlen(text) != 11 || text[5] != '-') return false;
    uint16_t start, end;
    if (!read_hhmm(text, start) || !read_hhmm(text + 6, end) || start == end) return false;
    start_min = start;
    end_min = end;
    return true;
}

bool in_active_hours(const DeviceConfig& config, int minute_of_day) {
    if (!config.has_active_hours || minute_of_day < 0) return true;
    int start = config.active_start_min;
    int end = config.active_end_min;
    if (start < end) return minute_of_day >= start && minute_of_day < end;
    return minute_of_day >= start || minute_of_day < end;  // wraps midnight
}

bool is_valid_command_id(const char* id) {
    if (id == nullptr || id[0] == '\0') return false;
    size_t n = 0;
    for (const char* p = id; *p != '\0'; ++p, ++n) {
        if (!(is_digit(*p) || (*p >= 'a' && *p <= 'z')) || n >= 16) return false;
    }
    return true;
}

// ---- StateJsonReader ------------------------------------------------------------------------

StateJsonReader::StateJsonReader(ResponseBody& body, DeviceState* state)
    : body_(body), state_(state) {
    body_ = ResponseBody{};
    if (state_ != nullptr) *state_ = DeviceState{};
}

void StateJsonReader::feed(const uint8_t* data, size_t len) {
    for (size_t i = 0; i < len && !failed_ && !finished_; ++i) step(static_cast<char>(data[i]));
}

StateJsonReader::Slot StateJsonReader::key_slot() const {
    if (key_overflow_ || depth_ == 0) return Slot::none;
    struct Entry {
        const char* key;
        Slot slot;
    };
    static const Entry kRoot[] = {{"duplicate", Slot::duplicate}, {"queued", Slot::queued},
                                  {"error", Slot::error},         {"id", Slot::id},
                                  {"state", Slot::state}};
    static const Entry kState[] = {
        {"config", Slot::config}, {"commands", Slot::commands}, {"firmware", Slot::firmware}};
    static const Entry kConfig[] = {
        {"version", Slot::cfg_version},      {"interval_s", Slot::cfg_interval},
        {"image_mode", Slot::cfg_mode},      {"jpeg_quality", Slot::cfg_quality},
        {"pir", Slot::cfg_pir},              {"battery_mode", Slot::cfg_battery},
        {"active_hours", Slot::cfg_hours},   {"checkin_s", Slot::cfg_checkin}};
    static const Entry kCommand[] = {{"id", Slot::cmd_id}, {"type", Slot::cmd_type}};
    static const Entry kFirmware[] = {
        {"version", Slot::fw_version}, {"url", Slot::fw_url},
        {"size", Slot::fw_size},       {"sha256", Slot::fw_sha256},
        {"signature", Slot::fw_signature}, {"force", Slot::fw_force}};
    const Entry* table = nullptr;
    size_t count = 0;
    switch (stack_[depth_ - 1]) {
        case Ctx::root: table = kRoot; count = sizeof kRoot / sizeof kRoot[0]; break;
        case Ctx::state: table = kState; count = sizeof kState / sizeof kState[0]; break;
        case Ctx::config: table = kConfig; count = sizeof kConfig / sizeof kConfig[0]; break;
        case Ctx::command: table = kCommand; count = sizeof kCommand / sizeof kCommand[0]; break;
        case Ctx::firmware: table = kFirmware; count = sizeof kFirmware / sizeof kFirmware[0]; break;
        case Ctx::commands:
        case Ctx::other: return Slot::none;
    }
    for (size_t i = 0; i < count; ++i) {
        if (std::strcmp(table[i].key, key_) == 0) {
            // Without a DeviceState only the upload's own fields are read.
            if (table[i].slot == Slot::state && state_ == nullptr) return Slot::none;
            return table[i].slot;
        }
    }
    return Slot::none;
}

void StateJsonReader::string_target(char*& out, size_t& capacity, bool*& overflow) {
    out = nullptr;
    capacity = 0;
    overflow = nullptr;
    ConfigUpdate* config = state_ != nullptr ? &state_->config : nullptr;
    FirmwareOffer* offer = state_ != nullptr ? &state_->firmware : nullptr;
    switch (slot_) {
        case Slot::error: out = body_.error; capacity = sizeof body_.error; break;
        case Slot::id: out = body_.id; capacity = sizeof body_.id; break;
        case Slot::cfg_mode:
            out = config->image_mode; capacity = sizeof config->image_mode;
            overflow = &config->overflow;
            break;
        case Slot::cfg_quality:
            out = config->jpeg_quality; capacity = sizeof config->jpeg_quality;
            overflow = &config->overflow;
            break;
        case Slot::cfg_hours:
            out = config->active_hours; capacity = sizeof config->active_hours;
            overflow = &config->overflow;
            break;
        case Slot::cmd_id:
            out = command_.id; capacity = sizeof command_.id; overflow = &command_overflow_;
            break;
        case Slot::cmd_type:
            out = command_type_; capacity = sizeof command_type_; overflow = &command_overflow_;
            break;
        case Slot::fw_version:
            out = offer->version; capacity = sizeof offer->version; overflow = &offer->overflow;
            break;
        case Slot::fw_url:
            out = offer->url; capacity = sizeof offer->url; overflow = &offer->overflow;
            break;
        case Slot::fw_sha256:
            out = offer->sha256; capacity = sizeof offer->sha256; overflow = &offer->overflow;
            break;
        case Slot::fw_signature:
            out = offer->signature; capacity = sizeof offer->signature;
            overflow = &offer->overflow;
            break;
        default: break;
    }
}

void StateJsonReader::finish_string() {
    if (str_out_ != nullptr) str_out_[str_len_] = '\0';
    if (state_ == nullptr) return;
    ConfigUpdate& config = state_->config;
    switch (slot_) {
        case Slot::cfg_mode: config.has_image_mode = true; break;
        case Slot::cfg_quality: config.has_quality = true; break;
        case Slot::cfg_hours: config.has_hours = true; config.hours_null = false; break;
        case Slot::cmd_type: command_capture_ = std::strcmp(command_type_, "capture") == 0; break;
        default: break;
    }
}

void StateJsonReader::finish_scalar() {
    scalar_[scalar_len_] = '\0';
    if (scalar_overflow_) return;
    bool flag = false;
    int64_t number = 0;
    switch (slot_) {
        case Slot::duplicate: body_.duplicate = std::strcmp(scalar_, "true") == 0; return;
        case Slot::queued: body_.queued = std::strcmp(scalar_, "true") == 0; return;
        default: break;
    }
    if (state_ == nullptr) return;
    ConfigUpdate& config = state_->config;
    FirmwareOffer& offer = state_->firmware;
    switch (slot_) {
        case Slot::cfg_version:
            if (parse_integer(scalar_, number)) config.version = number, config.has_version = true;
            break;
        case Slot::cfg_interval:
            if (parse_integer(scalar_, number)) config.interval_s = number, config.has_interval = true;
            break;
        case Slot::cfg_checkin:
            if (parse_integer(scalar_, number)) config.checkin_s = number, config.has_checkin = true;
            break;
        case Slot::cfg_pir:
            if (parse_bool(scalar_, flag)) config.pir = flag, config.has_pir = true;
            break;
        case Slot::cfg_battery:
            if (parse_bool(scalar_, flag)) config.battery_mode = flag, config.has_battery = true;
            break;
        case Slot::cfg_hours:
            if (std::strcmp(scalar_, "null") == 0) {
                config.has_hours = true;
                config.hours_null = true;
                config.active_hours[0] = '\0';
            }
            break;
        case Slot::fw_size:
            if (parse_integer(scalar_, number) && number >= 0 && number <= 0xffffffff) {
                offer.size = static_cast<uint32_t>(number);
                offer.has_size = true;
            }
            break;
        case Slot::fw_force:
            if (parse_bool(scalar_, flag)) offer.force = flag, offer.has_force = true;
            break;
        default: break;
    }
}

void StateJsonReader::start_value(char c) {
    if (!started_) {
        if (c != '{') {
            failed_ = true;
            return;
        }
        started_ = true;
    }
    if (c == '{' || c == '[') {
        if (depth_ == kMaxDepth) {
            failed_ = true;  // deeper than any answer of ours
            return;
        }
        Ctx parent = depth_ == 0 ? Ctx::other : stack_[depth_ - 1];
        Ctx ctx = Ctx::other;
        if (depth_ == 0) {
            ctx = Ctx::root;
        } else if (c == '{' && parent == Ctx::root && slot_ == Slot::state) {
            ctx = Ctx::state;
            state_->present = true;
        } else if (c == '{' && parent == Ctx::state && slot_ == Slot::config) {
            ctx = Ctx::config;
            state_->config = ConfigUpdate{};
            state_->config.present = true;
        } else if (c == '[' && parent == Ctx::state && slot_ == Slot::commands) {
            ctx = Ctx::commands;
            state_->command_count = 0;
        } else if (c == '{' && parent == Ctx::commands) {
            ctx = Ctx::command;
            command_ = CaptureCommand{};
            command_capture_ = false;
            command_overflow_ = false;
            command_type_[0] = '\0';
        } else if (c == '{' && parent == Ctx::state && slot_ == Slot::firmware) {
            ctx = Ctx::firmware;
            state_->firmware = FirmwareOffer{};
        } else if (parent == Ctx::commands) {
            ++state_->commands_dropped;  // not an object: not a command
        }
        stack_[depth_] = ctx;
        is_array_[depth_] = c == '[';
        ++depth_;
        mode_ = c == '{' ? Mode::key : Mode::value;
        slot_ = Slot::none;
        return;
    }
    if (depth_ > 0 && stack_[depth_ - 1] == Ctx::commands) {
        ++state_->commands_dropped;  // a bare string or number in the list
    }
    if (c == '"') {
        in_key_ = false;
        string_target(str_out_, str_cap_, str_overflow_);
        str_len_ = 0;
        mode_ = Mode::string;
        return;
    }
    scalar_len_ = 0;
    scalar_overflow_ = false;
    scalar_[scalar_len_++] = c;
    mode_ = Mode::scalar;
}

void StateJsonReader::end_value() {
    mode_ = Mode::after_value;
    if (depth_ == 0) finished_ = true;
}

void StateJsonReader::close_container() {
    Ctx ctx = stack_[depth_ - 1];
    if (ctx == Ctx::command) {
        bool ok = command_capture_ && !command_overflow_ && is_valid_command_id(command_.id);
        if (ok && state_->command_count < kMaxCommands) {
            state_->commands[state_->command_count++] = command_;
        } else {
            ++state_->commands_dropped;
        }
    } else if (ctx == Ctx::firmware) {
        FirmwareOffer& offer = state_->firmware;
        offer.present = !offer.overflow && offer.version[0] != '\0' && offer.url[0] != '\0' &&
                        offer.has_size && std::strlen(offer.sha256) == 64 &&
                        std::strlen(offer.signature) == 128;
    }
    --depth_;
    if (depth_ == 0 && state_ != nullptr) state_->complete = state_->present;
    end_value();
}

void StateJsonReader::step(char c) {
    switch (mode_) {
        case Mode::string:
            if (c == '"') {
                if (in_key_) {
                    key_[key_len_] = '\0';
                    in_key_ = false;
                    mode_ = Mode::colon;
                } else {
                    finish_string();
                    end_value();
                }
                return;
            }
            if (c == '\\') {
                mode_ = Mode::escape;
                return;
            }
            break;
        case Mode::escape:
            mode_ = Mode::string;
            switch (c) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'u':
                    // No field of ours needs one: kept as '?' so it never matches a valid value.
                    unicode_left_ = 4;
                    mode_ = Mode::unicode;
                    c = '?';
                    break;
                default: break;  // \" \\ \/
            }
            break;
        case Mode::unicode:
            if (--unicode_left_ == 0) mode_ = Mode::string;
            return;
        case Mode::scalar:
            if (c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' ||
                c == '\n') {
                finish_scalar();
                end_value();
                step(c);
            } else if (scalar_len_ + 1 < sizeof scalar_) {
                scalar_[scalar_len_++] = c;
            } else {
                scalar_overflow_ = true;
            }
            return;
        default: break;
    }
    if (mode_ == Mode::string || mode_ == Mode::unicode) {
        // A character of a string (after escapes): into its field, or dropped with a flag.
        if (in_key_) {
            if (key_len_ + 1 < sizeof key_) {
                key_[key_len_++] = c;
            } else {
                key_overflow_ = true;
            }
        } else if (str_out_ != nullptr) {
            if (str_len_ + 1 < str_cap_) {
                str_out_[str_len_++] = c;
            } else if (str_overflow_ != nullptr) {
                *str_overflow_ = true;
            }
        }
        return;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return;
    switch (mode_) {
        case Mode::value:
            if ((c == ']') && depth_ > 0 && is_array_[depth_ - 1]) {
                close_container();  // an empty list
            } else {
                start_value(c);
            }
            return;
        case Mode::key:
            if (c == '"') {
                in_key_ = true;
                key_len_ = 0;
                key_overflow_ = false;
                mode_ = Mode::string;
            } else if (c == '}') {
                close_container();  // an empty object
            } else {
                failed_ = true;
            }
            return;
        case Mode::colon:
            if (c != ':') {
                failed_ = true;
                return;
            }
            slot_ = key_slot();
            mode_ = Mode::value;
            return;
        case Mode::after_value:
            if (depth_ == 0) return;  // trailing bytes after the root: ignored
            if (c == ',') {
                mode_ = is_array_[depth_ - 1] ? Mode::value : Mode::key;
                slot_ = Slot::none;
            } else if ((c == '}' && !is_array_[depth_ - 1]) || (c == ']' && is_array_[depth_ - 1])) {
                close_container();
            } else {
                failed_ = true;
            }
            return;
        default: return;
    }
}

}  // namespace camcloud
