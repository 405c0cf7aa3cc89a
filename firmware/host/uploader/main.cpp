// camcloud-uploader: the camera's upload code (request, streaming, retries) over POSIX sockets,
// with a JPEG file as the camera. Used by the end-to-end tests and handy for poking an ingest.
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>
#include <thread>

#include "camcloud/capture_id.h"
#include "camcloud/device_state.h"
#include "camcloud/ota.h"
#include "camcloud/remote.h"
#include "camcloud/request.h"
#include "camcloud/retry.h"
#include "camcloud/upload.h"
#include "file_flash.h"
#include "file_source.h"
#include "posix_connection.h"

namespace {

constexpr const char* kVersion = "camcloud-uploader/1.0";

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: camcloud-uploader --url URL --key DEVICE_KEY --file IMAGE.jpg [options]\n"
                 "\n"
                 "Uploads one capture the way the camera does (the device upload protocol v1),\n"
                 "retrying with backoff and Retry-After under the same capture id.\n"
                 "\n"
                 "options:\n"
                 "  --capture-id ID      X-Capture-Id (default: MAC-bootcount-sequence)\n"
                 "  --mac AA:BB:CC:DD:EE:FF  --boot-count N  --sequence N   parts of the default id\n"
                 "  --captured-at UNIX   X-Captured-At (default: now; 'none' leaves it out)\n"
                 "  --device-id ID       X-Device-Id\n"
                 "  --max-attempts N     give up after N attempts (default 8)\n"
                 "  --base-ms MS         first backoff ceiling (default 500)\n"
                 "  --cap-ms MS          longest backoff (default 10000)\n"
                 "  --max-retry-after S  longest Retry-After obeyed (default 120)\n"
                 "  --timeout-ms MS      connect / read / write timeout (default 15000)\n"
                 "\n"
                 "device management (protocol v1.1; docs/device-management.md):\n"
                 "  --check-in           GET /device/state instead of uploading (--file optional:\n"
                 "                       it is the picture a capture-now command uploads)\n"
                 "  --state-dir DIR      the camera's flash across runs: last good config, reports\n"
                 "                       not yet delivered, an update waiting for its confirmation,\n"
                 "                       the next capture-now sequence\n"
                 "  --firmware-version V X-Firmware and the running version offers are compared with\n"
                 "                       (default: camcloud-uploader/1.0, which the server ignores)\n"
                 "  --ota-partition PATH install offered updates into PATH (the OTA partition): the\n"
                 "                       image goes to PATH.partial and replaces PATH only verified\n"
                 "  --public-key HEX     the 32-byte Ed25519 key offers must be signed with (64 hex)\n"
                 "  --partition-size N   largest image accepted (default 1966080, ESP32 OTA slot)\n"
                 "\n"
                 "Prints one JSON line on stdout: verdict, status, attempts, capture_id, body, and\n"
                 "device: the applied config, commands done, the update's result.\n"
                 "Exit status: 0 stored / duplicate / queued, 2 gave up, 64 bad usage.\n");
}

bool parse_u32(const char* text, uint32_t& value) {
    if (text == nullptr || *text == '\0') return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > 0xffffffffULL) return false;
    value = static_cast<uint32_t>(v);
    return true;
}

bool parse_mac(const char* text, uint8_t mac[6]) {
    unsigned v[6];
    if (std::sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
        return false;
    }
    for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(v[i]);
    return true;
}

// Prints text as a JSON string, or as-is when it already is a JSON object.
void print_json_value(const char* text) {
    if (text[0] == '{') {
        const char* end = text + std::strlen(text);
        while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) --end;
        if (end > text && end[-1] == '}') {
            std::fwrite(text, 1, static_cast<size_t>(end - text), stdout);
            return;
        }
    }
    std::putchar('"');
    for (const char* p = text; *p != '\0'; ++p) {
        unsigned char c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\') {
            std::printf("\\%c", c);
        } else if (c < 0x20) {
            std::printf("\\u%04x", c);
        } else {
            std::putchar(c);
        }
    }
    std::putchar('"');
}

}  // namespace

namespace {

bool parse_hex_key(const char* text, uint8_t key[camcloud::kOtaPublicKeySize]) {
    if (text == nullptr || std::strlen(text) != 2 * camcloud::kOtaPublicKeySize) return false;
    for (size_t i = 0; i < camcloud::kOtaPublicKeySize; ++i) {
        unsigned v = 0;
        if (std::sscanf(text + 2 * i, "%2x", &v) != 1 || !std::isxdigit(text[2 * i]) ||
            !std::isxdigit(text[2 * i + 1])) {
            return false;
        }
        key[i] = static_cast<uint8_t>(v);
    }
    return true;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::string text, line;
    while (std::getline(in, line)) text += line + "\n";
    return text;
}

// Reports not yet delivered, kept in <state-dir>/report: "done <id>[=<capture>]" and "ota <result>".
void load_report(const std::string& path, camcloud::RemoteControl& remote) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("done ", 0) == 0) {
            std::string item = line.substr(5);
            size_t eq = item.find('=');
            if (eq == std::string::npos) {
                remote.command_done(item.c_str(), nullptr);
            } else {
                remote.command_done(item.substr(0, eq).c_str(), item.substr(eq + 1).c_str());
            }
        } else if (line.rfind("ota ", 0) == 0) {
            remote.set_ota_result(line.substr(4).c_str());
        }
    }
}

void save_report(const std::string& path, camcloud::RemoteControl& remote) {
    camcloud::Report report = remote.report();
    std::string text;
    if (report.commands_done != nullptr) {
        std::string items = report.commands_done;
        size_t start = 0;
        while (start <= items.size()) {
            size_t comma = items.find(',', start);
            if (comma == std::string::npos) comma = items.size();
            if (comma > start) text += "done " + items.substr(start, comma - start) + "\n";
            start = comma + 1;
        }
    }
    if (report.ota_result != nullptr) text += std::string("ota ") + report.ota_result + "\n";
    if (text.empty()) {
        std::remove(path.c_str());
        return;
    }
    std::ofstream(path) << text;
}

// Without --state-dir the config lasts for this run.
class MemoryConfigStore : public camcloud::ConfigStore {
public:
    bool load(camcloud::DeviceConfig& config) override {
        if (!has_) return false;
        config = config_;
        return true;
    }
    bool save(const camcloud::DeviceConfig& config) override {
        config_ = config;
        has_ = true;
        return true;
    }

private:
    camcloud::DeviceConfig config_;
    bool has_ = false;
};

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string json_string(const char* text) {
    std::string out = "\"";
    for (const char* p = text; *p != '\0'; ++p) {
        unsigned char c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out += esc;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string config_json(const camcloud::DeviceConfig& c) {
    static const char* const kQuality[] = {"high", "default", "low"};
    const char* mode = camcloud::image_mode_name(c.image_mode);
    char hours[24] = "null";
    if (c.has_active_hours) {
        std::snprintf(hours, sizeof hours, "\"%02u:%02u-%02u:%02u\"", c.active_start_min / 60u,
                      c.active_start_min % 60u, c.active_end_min / 60u, c.active_end_min % 60u);
    }
    char out[320];
    std::snprintf(out, sizeof out,
                  "{\"version\": %d, \"interval_s\": %u, \"image_mode\": \"%s\", "
                  "\"jpeg_quality\": \"%s\", \"pir\": %s, \"battery_mode\": %s, "
                  "\"active_hours\": %s, \"checkin_s\": %u}",
                  static_cast<int>(c.version), static_cast<unsigned>(c.interval_s),
                  mode != nullptr ? mode : "?", c.jpeg_quality < 3 ? kQuality[c.jpeg_quality] : "?",
                  c.pir ? "true" : "false", c.battery_mode ? "true" : "false", hours,
                  static_cast<unsigned>(c.checkin_s));
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const char* url_text = nullptr;
    const char* key = nullptr;
    const char* path = nullptr;
    const char* capture_id_arg = nullptr;
    const char* device_id = nullptr;
    const char* captured_at_arg = nullptr;
    const char* state_dir = nullptr;
    const char* firmware_version = kVersion;
    const char* ota_partition = nullptr;
    const char* public_key_hex = nullptr;
    bool check_in = false;
    uint32_t partition_size = 0x1E0000;
    uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    uint32_t boot_count = 1;
    uint32_t sequence = 0;
    uint32_t timeout_ms = 15000;
    camcloud::RetryPolicy policy;
    policy.base_ms = 500;
    policy.cap_ms = 10000;
    policy.max_retry_after_s = 120;
    policy.max_attempts = 8;

    for (int i = 1; i < argc; ++i) {
        const char* arg = argv[i];
        if (std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (std::strcmp(arg, "--check-in") == 0) {
            check_in = true;
            continue;
        }
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        bool ok = value != nullptr;
        if (!ok) {
        } else if (std::strcmp(arg, "--url") == 0) {
            url_text = value;
        } else if (std::strcmp(arg, "--key") == 0) {
            key = value;
        } else if (std::strcmp(arg, "--file") == 0) {
            path = value;
        } else if (std::strcmp(arg, "--capture-id") == 0) {
            capture_id_arg = value;
        } else if (std::strcmp(arg, "--device-id") == 0) {
            device_id = value;
        } else if (std::strcmp(arg, "--captured-at") == 0) {
            captured_at_arg = value;
        } else if (std::strcmp(arg, "--state-dir") == 0) {
            state_dir = value;
        } else if (std::strcmp(arg, "--firmware-version") == 0) {
            firmware_version = value;
        } else if (std::strcmp(arg, "--ota-partition") == 0) {
            ota_partition = value;
        } else if (std::strcmp(arg, "--public-key") == 0) {
            public_key_hex = value;
        } else if (std::strcmp(arg, "--partition-size") == 0) {
            ok = parse_u32(value, partition_size) && partition_size > 0;
        } else if (std::strcmp(arg, "--mac") == 0) {
            ok = parse_mac(value, mac);
        } else if (std::strcmp(arg, "--boot-count") == 0) {
            ok = parse_u32(value, boot_count);
        } else if (std::strcmp(arg, "--sequence") == 0) {
            ok = parse_u32(value, sequence);
        } else if (std::strcmp(arg, "--max-attempts") == 0) {
            ok = parse_u32(value, policy.max_attempts) && policy.max_attempts > 0;
        } else if (std::strcmp(arg, "--base-ms") == 0) {
            ok = parse_u32(value, policy.base_ms);
        } else if (std::strcmp(arg, "--cap-ms") == 0) {
            ok = parse_u32(value, policy.cap_ms);
        } else if (std::strcmp(arg, "--max-retry-after") == 0) {
            ok = parse_u32(value, policy.max_retry_after_s);
        } else if (std::strcmp(arg, "--timeout-ms") == 0) {
            ok = parse_u32(value, timeout_ms) && timeout_ms > 0;
        } else {
            ok = false;
        }
        if (!ok) {
            std::fprintf(stderr, "camcloud-uploader: bad or incomplete option %s\n", arg);
            usage(stderr);
            return 64;
        }
        ++i;
    }
    if (url_text == nullptr || key == nullptr || (path == nullptr && !check_in)) {
        usage(stderr);
        return 64;
    }
    uint8_t public_key[camcloud::kOtaPublicKeySize];
    if (ota_partition != nullptr && !parse_hex_key(public_key_hex, public_key)) {
        std::fprintf(stderr, "camcloud-uploader: --ota-partition needs --public-key with 64 hex "
                             "digits (camcloud firmware keygen prints the key)\n");
        return 64;
    }
    camcloud::UploadUrl url;
    if (!camcloud::parse_upload_url(url_text, url)) {
        std::fprintf(stderr, "camcloud-uploader: not an http:// or https:// URL: %s\n", url_text);
        return 64;
    }
    if (url.tls) {
        std::fprintf(stderr, "camcloud-uploader: https:// is for the camera (WiFiClientSecure); "
                             "the host build speaks plain HTTP to the local stack\n");
        return 64;
    }
    char capture_id[camcloud::kCaptureIdSize];
    if (capture_id_arg != nullptr) {
        if (!camcloud::is_valid_capture_id(capture_id_arg)) {
            std::fprintf(stderr, "camcloud-uploader: capture id must match [A-Za-z0-9-]{1,64}\n");
            return 64;
        }
        std::snprintf(capture_id, sizeof capture_id, "%s", capture_id_arg);
    } else {
        camcloud::format_capture_id(mac, boot_count, sequence, capture_id, sizeof capture_id);
    }
    int64_t captured_at = static_cast<int64_t>(std::time(nullptr));
    if (captured_at_arg != nullptr) {
        uint32_t value = 0;
        if (std::strcmp(captured_at_arg, "none") == 0) {
            captured_at = -1;
        } else if (parse_u32(captured_at_arg, value)) {
            captured_at = value;
        } else {
            std::fprintf(stderr, "camcloud-uploader: --captured-at takes Unix seconds or 'none'\n");
            return 64;
        }
    }
    camcloud::FileFrameSource source;
    if (path != nullptr && !source.open(path)) {
        std::fprintf(stderr, "camcloud-uploader: cannot read %s\n", path);
        return 64;
    }

    // The camera's flash: without --state-dir it lasts for this run only.
    std::string dir = state_dir != nullptr ? state_dir : "";
    std::string report_path = dir + "/report";
    std::string pending_path = dir + "/ota-pending";
    camcloud::FileConfigStore file_store(dir + "/config");
    MemoryConfigStore memory_store;
    camcloud::ConfigStore& store = dir.empty() ? static_cast<camcloud::ConfigStore&>(memory_store)
                                               : file_store;
    camcloud::RemoteControl remote(store, camcloud::DeviceConfig{});
    remote.begin();
    bool confirm_update = false;
    if (!dir.empty()) {
        load_report(report_path, remote);
        // An update installed by an earlier run: this run is its first boot (same version) or
        // the old image after the bootloader rolled it back (another version).
        std::string pending = read_text(pending_path);
        while (!pending.empty() && pending.back() == '\n') pending.pop_back();
        if (!pending.empty()) {
            if (pending == firmware_version) {
                confirm_update = true;
            } else {
                remote.set_ota_result("failed:rollback");
                std::remove(pending_path.c_str());
            }
        }
    }

    camcloud::Telemetry telemetry;
    telemetry.firmware = firmware_version;
    telemetry.boot_count = boot_count;

    std::random_device entropy;
    std::mt19937 random(entropy());
    camcloud::Uploader uploader;
    static camcloud::DeviceState state;  // 1.5 KiB: static, as on the camera
    std::string device_log;              // what the device management did, as JSON items
    std::vector<std::string> done_items;
    bool state_seen = false;

    // One request (an upload of `id`, or a check-in when id is null) with the camera's retries.
    struct Outcome {
        camcloud::UploadResult result;
        camcloud::Decision decision{camcloud::Verdict::give_up, 0};
        uint32_t attempts = 0;
        std::string body;
    };
    auto send = [&](const char* id) {
        Outcome out;
        for (uint32_t attempt = 0;; ++attempt) {
            camcloud::Report report = remote.report();
            if (confirm_update) report.ota_result = "ok";
            camcloud::PosixConnection connection(timeout_ms);
            int64_t now = static_cast<int64_t>(std::time(nullptr));
            if (id != nullptr) {
                source.rewind();
                camcloud::UploadRequest request;
                request.url = &url;
                request.device_key = key;
                request.device_id = device_id;
                request.capture_id = id;
                request.captured_at = captured_at;
                request.content_length = source.size();
                request.user_agent = kVersion;
                request.telemetry = &telemetry;
                request.report = &report;
                out.result = uploader.upload(connection, source, request, now, &state);
            } else {
                camcloud::StateRequest request;
                request.url = &url;
                request.device_key = key;
                request.device_id = device_id;
                request.user_agent = kVersion;
                request.telemetry = &telemetry;
                request.report = &report;
                out.result = uploader.check_in(connection, request, now, &state);
            }
            out.attempts = attempt + 1;
            const camcloud::UploadResult& result = out.result;
            out.decision = camcloud::decide(policy, attempt, result.error, result.status,
                                            result.retry_after_s, result.body.duplicate, random());
            if (result.error != camcloud::TransportError::none) {
                std::fprintf(stderr, "camcloud-uploader: %s attempt %u: %s", id ? "upload" : "check-in",
                             attempt + 1, camcloud::transport_error_name(result.error));
            } else {
                std::fprintf(stderr, "camcloud-uploader: %s attempt %u: status %d",
                             id ? "upload" : "check-in", attempt + 1, result.status);
                if (result.retry_after_s >= 0) {
                    std::fprintf(stderr, " retry-after %ld s", static_cast<long>(result.retry_after_s));
                }
                if (result.body.error[0] != '\0') std::fprintf(stderr, " error %s", result.body.error);
            }
            bool answered = result.error == camcloud::TransportError::none &&
                            result.status >= 200 && result.status < 300;
            if (answered) {
                if (result.report_sent) remote.report_delivered();
                remote.answered(static_cast<uint64_t>(now) * 1000u);
                if (confirm_update) {
                    // The first successful request of the new image: it confirms itself
                    // (esp_ota_mark_app_valid_cancel_rollback() on the camera).
                    confirm_update = false;
                    std::remove(pending_path.c_str());
                    device_log += ", \"update_confirmed\": " + json_string(firmware_version);
                }
            }
            if (out.decision.verdict == camcloud::Verdict::retry) {
                std::fprintf(stderr, " -> retry in %lu ms\n",
                             static_cast<unsigned long>(out.decision.delay_ms));
                std::this_thread::sleep_for(std::chrono::milliseconds(out.decision.delay_ms));
                continue;
            }
            std::fprintf(stderr, " -> %s\n", camcloud::verdict_name(out.decision.verdict));
            break;
        }
        out.body = uploader.last_body();
        return out;
    };

    // Acts on the state of the last answer: config, then capture-now commands (each uploads
    // --file as a new capture and reports itself done in that same request).
    std::string ota_json = "null";
    std::string config_note;
    // Capture-now ids continue from the last run's (DIR/next-sequence), so a later run never
    // reuses one (the ingest would answer "duplicate" and link the command to an old capture).
    uint32_t next_sequence = sequence + 1;
    std::string sequence_path = dir + "/next-sequence";
    if (!dir.empty()) {
        uint32_t stored = 0;
        std::string text = read_text(sequence_path);
        while (!text.empty() && text.back() == '\n') text.pop_back();
        if (parse_u32(text.c_str(), stored) && stored > next_sequence) next_sequence = stored;
    }
    int captures_left = static_cast<int>(camcloud::kMaxCommands);
    auto act = [&](auto& self) -> void {
        if (!state.complete) return;
        state_seen = true;
        camcloud::ConfigApply applied = remote.on_state(state);
        if (applied.applied) {
            char refused[96];
            camcloud::refused_field_names(applied.refused, refused, sizeof refused);
            config_note = ", \"config_applied\": " + std::to_string(remote.config().version) +
                          ", \"config_refused\": " + json_string(refused);
            std::fprintf(stderr, "camcloud-uploader: config %d applied%s%s\n",
                         static_cast<int>(remote.config().version),
                         refused[0] != '\0' ? ", kept the last good value of " : "", refused);
        }
        // The offer is copied: the capture below reuses `state` for its own answer.
        camcloud::FirmwareOffer offer = state.firmware;
        bool offered = state.firmware.present || state.firmware.overflow;
        char command[camcloud::kCommandIdCapacity];
        if (path != nullptr && captures_left > 0 && remote.pending_command(command)) {
            --captures_left;
            char new_id[camcloud::kCaptureIdSize];
            camcloud::format_capture_id(mac, boot_count, next_sequence++, new_id, sizeof new_id);
            remote.command_done(command, new_id);
            done_items.push_back(std::string(command) + "=" + new_id);
            std::fprintf(stderr, "camcloud-uploader: capture now (command %s) as %s\n", command, new_id);
            Outcome capture = send(new_id);
            (void)capture;
            self(self);
        }
        if (!offered || ota_partition == nullptr || ota_json != "null") return;
        if (offer.overflow) {
            remote.set_ota_result("failed:offer");
            ota_json = "{\"result\": \"failed:offer\"}";
            send(nullptr);
            return;
        }
        camcloud::OfferCheck check = camcloud::check_offer(offer, firmware_version, public_key,
                                                           partition_size);
        if (check == camcloud::OfferCheck::not_newer) {
            ota_json = "{\"result\": \"ignored\", \"version\": " + json_string(offer.version) + "}";
            return;
        }
        if (check != camcloud::OfferCheck::install) {
            remote.set_ota_result(camcloud::offer_check_result(check));
            ota_json = "{\"result\": " + json_string(camcloud::offer_check_result(check)) +
                       ", \"version\": " + json_string(offer.version) + "}";
            send(nullptr);  // the camera reports it on its next request: here at once
            return;
        }
        camcloud::OfferUrl offer_url;
        if (camcloud::parse_offer_url(offer.url, offer_url) && offer_url.tls) {
            remote.set_ota_result("failed:url");
            ota_json = "{\"result\": \"failed:url\", \"why\": \"https download needs the camera\"}";
            send(nullptr);
            return;
        }
        std::fprintf(stderr, "camcloud-uploader: installing %s (%lu bytes) into %s\n", offer.version,
                     static_cast<unsigned long>(offer.size), ota_partition);
        camcloud::PosixConnection connection(timeout_ms);
        camcloud::FileFlashWriter writer(ota_partition);
        static camcloud::OtaInstaller installer;
        camcloud::OtaResult result = installer.install(connection, offer, writer, kVersion);
        ota_json = "{\"result\": " + json_string(result.result) + ", \"version\": " +
                   json_string(offer.version) + ", \"received\": " + std::to_string(result.received) +
                   ", \"http_status\": " + std::to_string(result.status) + "}";
        std::fprintf(stderr, "camcloud-uploader: update %s: %s\n", offer.version, result.result);
        if (result.ok) {
            // The camera reboots into the new image now; the next run with
            // --firmware-version <new> is that boot, and confirms it.
            if (!dir.empty()) write_text(pending_path, std::string(offer.version) + "\n");
        } else {
            remote.set_ota_result(result.result);
            send(nullptr);  // the camera reports it on its next request: here at once
        }
    };

    Outcome main_request = send(check_in ? nullptr : capture_id);
    act(act);
    if (!dir.empty()) {
        save_report(report_path, remote);
        write_text(sequence_path, std::to_string(next_sequence) + "\n");
    }

    std::string done_json = "[";
    for (size_t i = 0; i < done_items.size(); ++i) {
        done_json += (i > 0 ? ", " : "") + json_string(done_items[i].c_str());
    }
    done_json += "]";
    std::printf("{\"verdict\": \"%s\", \"status\": %d, \"attempts\": %u, \"capture_id\": \"%s\", "
                "\"error\": \"%s\", \"body\": ",
                camcloud::verdict_name(main_request.decision.verdict), main_request.result.status,
                main_request.attempts, check_in ? "" : capture_id,
                camcloud::transport_error_name(main_request.result.error));
    print_json_value(main_request.body.c_str());
    std::printf(", \"device\": {\"state_seen\": %s, \"config\": %s%s, \"commands_done\": %s, "
                "\"commands_pending\": %zu, \"ota\": %s%s}}\n",
                state_seen ? "true" : "false", config_json(remote.config()).c_str(),
                config_note.c_str(), done_json.c_str(), remote.pending_count(), ota_json.c_str(),
                device_log.c_str());
    return main_request.decision.verdict == camcloud::Verdict::give_up ? 2 : 0;
}
