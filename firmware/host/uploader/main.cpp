// camcloud-uploader: the camera's upload code (request, streaming, retries) over POSIX sockets,
// with a JPEG file as the camera. Used by the end-to-end tests and handy for poking an ingest.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>

#include "camcloud/capture_id.h"
#include "camcloud/request.h"
#include "camcloud/retry.h"
#include "camcloud/upload.h"
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
                 "Prints one JSON line on stdout: verdict, status, attempts, capture_id, body.\n"
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

int main(int argc, char** argv) {
    const char* url_text = nullptr;
    const char* key = nullptr;
    const char* path = nullptr;
    const char* capture_id_arg = nullptr;
    const char* device_id = nullptr;
    const char* captured_at_arg = nullptr;
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
    if (url_text == nullptr || key == nullptr || path == nullptr) {
        usage(stderr);
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
    if (!source.open(path)) {
        std::fprintf(stderr, "camcloud-uploader: cannot read %s\n", path);
        return 64;
    }

    camcloud::Telemetry telemetry;
    telemetry.firmware = kVersion;
    telemetry.boot_count = boot_count;
    camcloud::UploadRequest request;
    request.url = &url;
    request.device_key = key;
    request.device_id = device_id;
    request.capture_id = capture_id;
    request.captured_at = captured_at;
    request.content_length = source.size();
    request.user_agent = kVersion;
    request.telemetry = &telemetry;

    std::random_device entropy;
    std::mt19937 random(entropy());
    camcloud::Uploader uploader;
    camcloud::UploadResult result;
    camcloud::Decision decision{camcloud::Verdict::give_up, 0};
    uint32_t attempt = 0;
    for (;; ++attempt) {
        source.rewind();
        camcloud::PosixConnection connection(timeout_ms);
        result = uploader.upload(connection, source, request,
                                 static_cast<int64_t>(std::time(nullptr)));
        decision = camcloud::decide(policy, attempt, result.error, result.status,
                                    result.retry_after_s, result.body.duplicate, random());
        if (result.error != camcloud::TransportError::none) {
            std::fprintf(stderr, "camcloud-uploader: attempt %u: %s", attempt + 1,
                         camcloud::transport_error_name(result.error));
        } else {
            std::fprintf(stderr, "camcloud-uploader: attempt %u: status %d", attempt + 1,
                         result.status);
            if (result.retry_after_s >= 0) {
                std::fprintf(stderr, " retry-after %ld s", static_cast<long>(result.retry_after_s));
            }
            if (result.body.error[0] != '\0') std::fprintf(stderr, " error %s", result.body.error);
        }
        if (decision.verdict == camcloud::Verdict::retry) {
            std::fprintf(stderr, " -> retry in %lu ms\n", static_cast<unsigned long>(decision.delay_ms));
            std::this_thread::sleep_for(std::chrono::milliseconds(decision.delay_ms));
            continue;
        }
        std::fprintf(stderr, " -> %s\n", camcloud::verdict_name(decision.verdict));
        break;
    }

    std::printf("{\"verdict\": \"%s\", \"status\": %d, \"attempts\": %u, \"capture_id\": \"%s\", "
                "\"error\": \"%s\", \"body\": ",
                camcloud::verdict_name(decision.verdict), result.status, attempt + 1, capture_id,
                camcloud::transport_error_name(result.error));
    print_json_value(uploader.last_body()[0] != '\0' ? uploader.last_body() : "");
    std::printf("}\n");
    return decision.verdict == camcloud::Verdict::give_up ? 2 : 0;
}
