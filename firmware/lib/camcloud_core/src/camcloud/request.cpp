#include "camcloud/request.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "camcloud/capture_id.h"

namespace camcloud {

namespace {

bool copy_span(const char* begin, const char* end, char* out, size_t out_size) {
    size_t n = static_cast<size_t>(end - begin);
    if (n >= out_size) return false;
    std::memcpy(out, begin, n);
    out[n] = '\0';
    return true;
}

// A header value must not smuggle in CR/LF (a second header or a second request).
bool safe_value(const char* value) {
    if (value == nullptr) return false;
    for (const char* p = value; *p != '\0'; ++p) {
        unsigned char c = static_cast<unsigned char>(*p);
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

// Appends formatted text to out at *used; false once it no longer fits.
bool append(char* out, size_t out_size, size_t* used, const char* format, ...)
    __attribute__((format(printf, 4, 5)));

bool append(char* out, size_t out_size, size_t* used, const char* format, ...) {
    if (*used >= out_size) return false;
    va_list args;
    va_start(args, format);
    int n = std::vsnprintf(out + *used, out_size - *used, format, args);
    va_end(args);
    if (n < 0 || static_cast<size_t>(n) >= out_size - *used) return false;
    *used += static_cast<size_t>(n);
    return true;
}

bool append_telemetry(const Telemetry* telemetry, char* out, size_t out_size, size_t* used_ptr) {
    bool ok = true;
    size_t& used = *used_ptr;
    if (const Telemetry* t = telemetry) {
        if (t->firmware != nullptr && t->firmware[0] != '\0') {
            ok = ok && safe_value(t->firmware) &&
                 append(out, out_size, &used, "X-Firmware: %s\r\n", t->firmware);
        }
        if (t->has_rssi) {
            ok = ok && append(out, out_size, &used, "X-RSSI: %ld\r\n", static_cast<long>(t->rssi_dbm));
        }
        if (t->free_heap >= 0) {
            ok = ok && append(out, out_size, &used, "X-Free-Heap: %lld\r\n",
                              static_cast<long long>(t->free_heap));
        }
        if (t->max_alloc_heap >= 0) {
            // Free heap can look healthy while fragmentation leaves no block big enough for
            // mbedTLS's 16 KiB record buffers: the largest block is what predicts a failed TLS.
            ok = ok && append(out, out_size, &used, "X-Max-Alloc-Heap: %lld\r\n",
                              static_cast<long long>(t->max_alloc_heap));
        }
        if (t->boot_count >= 0) {
            ok = ok && append(out, out_size, &used, "X-Boot-Count: %lld\r\n",
                              static_cast<long long>(t->boot_count));
        }
        if (t->reset_reason != nullptr && t->reset_reason[0] != '\0') {
            ok = ok && safe_value(t->reset_reason) &&
                 append(out, out_size, &used, "X-Reset-Reason: %s\r\n", t->reset_reason);
        }
        if (t->uptime_s >= 0) {
            ok = ok && append(out, out_size, &used, "X-Uptime: %lld\r\n",
                              static_cast<long long>(t->uptime_s));
        }
        if (t->frames_lost >= 0) {
            ok = ok && append(out, out_size, &used, "X-Frames-Lost: %lld\r\n",
                              static_cast<long long>(t->frames_lost));
        }
    }
    return ok;
}

bool append_report(const Report* report, char* out, size_t out_size, size_t* used) {
    if (report == nullptr) return true;
    bool ok = true;
    if (report->config_version > 0) {
        ok = ok && append(out, out_size, used, "X-Config-Version: %lld\r\n",
                          static_cast<long long>(report->config_version));
    }
    if (report->commands_done != nullptr && report->commands_done[0] != '\0') {
        ok = ok && safe_value(report->commands_done) &&
             append(out, out_size, used, "X-Commands-Done: %s\r\n", report->commands_done);
    }
    if (report->ota_result != nullptr && report->ota_result[0] != '\0') {
        ok = ok && safe_value(report->ota_result) &&
             append(out, out_size, used, "X-Ota-Result: %s\r\n", report->ota_result);
    }
    return ok;
}

}  // namespace

bool parse_upload_url(const char* text, UploadUrl& url) {
    if (text == nullptr) return false;
    UploadUrl parsed;
    const char* rest;
    if (std::strncmp(text, "http://", 7) == 0) {
        rest = text + 7;
        parsed.port = 80;
    } else if (std::strncmp(text, "https://", 8) == 0) {
        rest = text + 8;
        parsed.tls = true;
        parsed.port = 443;
    } else {
        return false;
    }
    const char* host_end = rest;
    while (*host_end != '\0' && *host_end != ':' && *host_end != '/') ++host_end;
    if (host_end == rest || !copy_span(rest, host_end, parsed.host, sizeof parsed.host)) return false;
    const char* p = host_end;
    if (*p == ':') {
        ++p;
        unsigned long port = 0;
        const char* digits = p;
        while (*p >= '0' && *p <= '9') {
            port = port * 10 + static_cast<unsigned long>(*p - '0');
            if (port > 65535) return false;
            ++p;
        }
        if (p == digits || port == 0) return false;
        parsed.port = static_cast<uint16_t>(port);
        parsed.default_port = false;
    }
    if (*p == '\0') {
        std::strcpy(parsed.path, "/");
    } else if (*p == '/') {
        if (!safe_value(p) || std::strchr(p, ' ') != nullptr) return false;
        if (!copy_span(p, p + std::strlen(p), parsed.path, sizeof parsed.path)) return false;
    } else {
        return false;
    }
    url = parsed;
    return true;
}

size_t build_request_head(const UploadRequest& r, char* out, size_t out_size) {
    if (r.url == nullptr || out == nullptr || !safe_value(r.device_key) || r.device_key[0] == '\0' ||
        !is_valid_capture_id(r.capture_id) || !safe_value(r.user_agent) || r.content_length == 0) {
        return 0;
    }
    size_t used = 0;
    bool ok = append(out, out_size, &used, "POST %s HTTP/1.1\r\n", r.url->path);
    if (r.url->default_port) {
        ok = ok && append(out, out_size, &used, "Host: %s\r\n", r.url->host);
    } else {
        ok = ok && append(out, out_size, &used, "Host: %s:%u\r\n", r.url->host,
                          static_cast<unsigned>(r.url->port));
    }
    ok = ok && append(out, out_size, &used,
                      "User-Agent: %s\r\n"
                      "Authorization: Bearer %s\r\n"
                      "Content-Type: image/jpeg\r\n"
                      "Content-Length: %lu\r\n"
                      "X-Capture-Id: %s\r\n",
                      r.user_agent, r.device_key, static_cast<unsigned long>(r.content_length),
                      r.capture_id);
    if (r.device_id != nullptr && r.device_id[0] != '\0') {
        ok = ok && safe_value(r.device_id) &&
             append(out, out_size, &used, "X-Device-Id: %s\r\n", r.device_id);
    }
    if (r.captured_at >= 0) {
        ok = ok && append(out, out_size, &used, "X-Captured-At: %lld\r\n",
                          static_cast<long long>(r.captured_at));
    }
    ok = ok && append_telemetry(r.telemetry, out, out_size, &used);
    ok = ok && append_report(r.report, out, out_size, &used);
    // One request per connection: the camera sleeps or waits minutes between uploads, and a
    // closed connection tells the response reader where the body ends even without a length.
    ok = ok && append(out, out_size, &used, "Connection: close\r\n\r\n");
    return ok ? used : 0;
}

bool state_path_for(const char* upload_path, char* out, size_t out_size) {
    static const char kSuffix[] = "upload";
    static const char kState[] = "device/state";
    size_t prefix = 1;  // "/"
    size_t n = upload_path != nullptr ? std::strlen(upload_path) : 0;
    if (n >= 7 && std::strcmp(upload_path + n - 6, kSuffix) == 0 && upload_path[n - 7] == '/') {
        prefix = n - 6;  // keeps ".../" before "upload"
    }
    if (prefix + sizeof kState > out_size) return false;
    if (prefix == 1) {
        out[0] = '/';
    } else {
        std::memcpy(out, upload_path, prefix);
    }
    std::memcpy(out + prefix, kState, sizeof kState);
    return true;
}

size_t build_state_request_head(const StateRequest& r, char* out, size_t out_size) {
    if (r.url == nullptr || out == nullptr || !safe_value(r.device_key) || r.device_key[0] == '\0' ||
        !safe_value(r.user_agent)) {
        return 0;
    }
    char path[sizeof r.url->path + 16];
    if (!state_path_for(r.url->path, path, sizeof path)) return 0;
    size_t used = 0;
    bool ok = append(out, out_size, &used, "GET %s HTTP/1.1\r\n", path);
    if (r.url->default_port) {
        ok = ok && append(out, out_size, &used, "Host: %s\r\n", r.url->host);
    } else {
        ok = ok && append(out, out_size, &used, "Host: %s:%u\r\n", r.url->host,
                          static_cast<unsigned>(r.url->port));
    }
    ok = ok && append(out, out_size, &used, "User-Agent: %s\r\nAuthorization: Bearer %s\r\n",
                      r.user_agent, r.device_key);
    if (r.device_id != nullptr && r.device_id[0] != '\0') {
        ok = ok && safe_value(r.device_id) &&
             append(out, out_size, &used, "X-Device-Id: %s\r\n", r.device_id);
    }
    ok = ok && append_telemetry(r.telemetry, out, out_size, &used);
    ok = ok && append_report(r.report, out, out_size, &used);
    ok = ok && append(out, out_size, &used, "Connection: close\r\n\r\n");
    return ok ? used : 0;
}

}  // namespace camcloud
