#include "camcloud/ota.h"

#include <sodium.h>

#include <cstdio>
#include <cstring>

#include "camcloud/response.h"

namespace camcloud {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct ParsedVersion {
    uint32_t parts[4] = {0, 0, 0, 0};
    const char* pre = nullptr;  // after '-', up to '+' or the end
    size_t pre_len = 0;
};

bool parse_version(const char* text, ParsedVersion& out) {
    if (text == nullptr || std::strlen(text) > 32) return false;
    const char* p = text;
    for (int part = 0; part < 4; ++part) {
        if (!is_digit(*p)) return false;
        uint32_t value = 0;
        int digits = 0;
        for (; is_digit(*p); ++p, ++digits) {
            if (digits == 9) return false;  // N is up to 9 digits
            value = value * 10 + static_cast<uint32_t>(*p - '0');
        }
        out.parts[part] = value;
        if (*p != '.') break;
        if (part == 3) return false;
        ++p;
    }
    if (*p == '-') {
        out.pre = ++p;
        while (*p != '\0' && *p != '+') {
            char c = *p;
            bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                      c == '-' || c == '_';
            if (!ok) return false;
            ++p;
        }
        out.pre_len = static_cast<size_t>(p - out.pre);
        if (out.pre_len == 0) return false;
    }
    if (*p == '+') {
        ++p;
        if (*p == '\0') return false;
        for (; *p != '\0'; ++p) {
            char c = *p;
            bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                      c == '-' || c == '_';
            if (!ok) return false;
        }
    }
    return *p == '\0';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool hex_decode(const char* hex, uint8_t* out, size_t out_len) {
    if (hex == nullptr || std::strlen(hex) != out_len * 2) return false;
    for (size_t i = 0; i < out_len; ++i) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return true;
}

bool is_lower_hex(const char* text, size_t len) {
    if (std::strlen(text) != len) return false;
    for (size_t i = 0; i < len; ++i) {
        if (!(is_digit(text[i]) || (text[i] >= 'a' && text[i] <= 'f'))) return false;
    }
    return true;
}

// Receives the image: checks the answer's status and length, feeds every byte to SHA-256 and
// the flash writer, and stops at the first byte beyond the announced size.
class ImageSink : public BodySink {
public:
    ImageSink(const FirmwareOffer& offer, FlashWriter& writer, OtaResult& result)
        : offer_(offer), writer_(writer), result_(result) {
        crypto_hash_sha256_init(&sha_);
    }

    bool on_head(int status, int64_t content_length) override {
        result_.status = status;
        if (status != 200) {
            std::snprintf(result_.result, sizeof result_.result, "failed:http-%d", status);
            return fail(nullptr);
        }
        if (content_length >= 0 && content_length != static_cast<int64_t>(offer_.size)) {
            return fail("failed:size");
        }
        if (!writer_.begin(offer_.size)) return fail("failed:flash-begin");
        begun_ = true;
        return true;
    }

    bool on_body(const uint8_t* data, size_t len) override {
        if (len > offer_.size - result_.received) return fail("failed:size");
        crypto_hash_sha256_update(&sha_, data, len);
        result_.received += static_cast<uint32_t>(len);
        if (!writer_.write(data, len)) return fail("failed:flash-write");
        return true;
    }

    void digest_hex(char out[65]) {
        uint8_t digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&sha_, digest);
        for (size_t i = 0; i < sizeof digest; ++i) {
            std::snprintf(out + 2 * i, 3, "%02x", static_cast<unsigned>(digest[i]));
        }
    }

    bool failed() const { return failed_; }
    bool begun() const { return begun_; }

private:
    bool fail(const char* reason) {
        if (!failed_ && reason != nullptr) {
            std::snprintf(result_.result, sizeof result_.result, "%s", reason);
        }
        failed_ = true;
        return false;
    }

    const FirmwareOffer& offer_;
    FlashWriter& writer_;
    OtaResult& result_;
    crypto_hash_sha256_state sha_;
    bool failed_ = false;
    bool begun_ = false;
};

}  // namespace

bool is_valid_version(const char* text) {
    ParsedVersion version;
    return parse_version(text, version);
}

int compare_versions(const char* a, const char* b) {
    ParsedVersion va, vb;
    parse_version(a, va);
    parse_version(b, vb);
    for (int i = 0; i < 4; ++i) {
        if (va.parts[i] != vb.parts[i]) return va.parts[i] < vb.parts[i] ? -1 : 1;
    }
    if (va.pre == nullptr || vb.pre == nullptr) {
        if (va.pre == nullptr && vb.pre == nullptr) return 0;
        return va.pre == nullptr ? 1 : -1;  // a release is newer than its pre-release
    }
    size_t n = va.pre_len < vb.pre_len ? va.pre_len : vb.pre_len;
    int c = std::strncmp(va.pre, vb.pre, n);
    if (c != 0) return c < 0 ? -1 : 1;
    if (va.pre_len == vb.pre_len) return 0;
    return va.pre_len < vb.pre_len ? -1 : 1;
}

size_t build_signed_message(const FirmwareOffer& offer, char* out, size_t out_size) {
    int n = std::snprintf(out, out_size, "camcloud-fw-v1\n%s\n%lu\n%s\n%d\n", offer.version,
                          static_cast<unsigned long>(offer.size), offer.sha256, offer.force ? 1 : 0);
    if (n < 0 || static_cast<size_t>(n) >= out_size) return 0;
    return static_cast<size_t>(n);
}

bool verify_offer_signature(const FirmwareOffer& offer, const uint8_t public_key[kOtaPublicKeySize]) {
    uint8_t signature[crypto_sign_BYTES];
    if (!hex_decode(offer.signature, signature, sizeof signature)) return false;
    char message[160];
    size_t len = build_signed_message(offer, message, sizeof message);
    if (len == 0) return false;
    if (sodium_init() < 0) return false;
    return crypto_sign_verify_detached(signature, reinterpret_cast<const uint8_t*>(message), len,
                                       public_key) == 0;
}

OfferCheck check_offer(const FirmwareOffer& offer, const char* running_version,
                       const uint8_t public_key[kOtaPublicKeySize], uint32_t partition_size) {
    if (!offer.present || !is_valid_version(offer.version) || !is_lower_hex(offer.sha256, 64)) {
        return OfferCheck::bad_offer;
    }
    // A camera that cannot read its own version cannot order it: the signature still decides.
    if (!offer.force && is_valid_version(running_version) &&
        compare_versions(offer.version, running_version) <= 0) {
        return OfferCheck::not_newer;
    }
    if (running_version != nullptr && std::strcmp(offer.version, running_version) == 0) {
        return OfferCheck::not_newer;  // never the same one again, forced or not
    }
    if (!verify_offer_signature(offer, public_key)) return OfferCheck::bad_signature;
    if (offer.size == 0 || offer.size > partition_size) return OfferCheck::too_big;
    return OfferCheck::install;
}

const char* offer_check_result(OfferCheck check) {
    switch (check) {
        case OfferCheck::bad_offer: return "failed:offer";
        case OfferCheck::bad_signature: return "failed:signature";
        case OfferCheck::too_big: return "failed:too-big";
        case OfferCheck::install:
        case OfferCheck::not_newer: return nullptr;
    }
    return nullptr;
}

bool parse_offer_url(const char* url, OfferUrl& out) {
    if (url == nullptr) return false;
    OfferUrl parsed;
    const char* rest;
    if (std::strncmp(url, "http://", 7) == 0) {
        rest = url + 7;
        parsed.port = 80;
    } else if (std::strncmp(url, "https://", 8) == 0) {
        rest = url + 8;
        parsed.port = 443;
        parsed.tls = true;
    } else {
        return false;
    }
    const char* host_end = rest;
    while (*host_end != '\0' && *host_end != ':' && *host_end != '/') ++host_end;
    size_t host_len = static_cast<size_t>(host_end - rest);
    if (host_len == 0 || host_len >= sizeof parsed.host) return false;
    std::memcpy(parsed.host, rest, host_len);
    const char* p = host_end;
    if (*p == ':') {
        ++p;
        unsigned long port = 0;
        const char* digits = p;
        while (is_digit(*p)) {
            port = port * 10 + static_cast<unsigned long>(*p - '0');
            if (port > 65535) return false;
            ++p;
        }
        if (p == digits || port == 0) return false;
        parsed.port = static_cast<uint16_t>(port);
        parsed.default_port = false;
    }
    if (*p != '/') return false;
    // The path goes into the request line as it is: no controls, no spaces.
    for (const char* q = p; *q != '\0'; ++q) {
        unsigned char c = static_cast<unsigned char>(*q);
        if (c <= 0x20 || c == 0x7f) return false;
    }
    parsed.path = p;
    out = parsed;
    return true;
}

bool OtaInstaller::write_all(Connection& connection, const char* text, size_t len) {
    const uint8_t* data = reinterpret_cast<const uint8_t*>(text);
    while (len > 0) {
        long sent = connection.write(data, len);
        if (sent <= 0 || static_cast<size_t>(sent) > len) return false;
        data += sent;
        len -= static_cast<size_t>(sent);
    }
    return true;
}

OtaResult OtaInstaller::install(Connection& connection, const FirmwareOffer& offer,
                                FlashWriter& writer, const char* user_agent) {
    OtaResult result;
    OfferUrl url;
    if (!parse_offer_url(offer.url, url)) {
        std::snprintf(result.result, sizeof result.result, "failed:url");
        return result;
    }
    if (!connection.connect(url.host, url.port)) {
        connection.close();
        std::snprintf(result.result, sizeof result.result, "failed:download");
        return result;
    }
    // The request line holds the whole presigned URL (up to 1 KiB), so the head is written in
    // pieces rather than formatted into the buffer.
    char host_line[sizeof url.host + 16];
    if (url.default_port) {
        std::snprintf(host_line, sizeof host_line, "%s", url.host);
    } else {
        std::snprintf(host_line, sizeof host_line, "%s:%u", url.host,
                      static_cast<unsigned>(url.port));
    }
    bool sent = write_all(connection, "GET ", 4) &&
                write_all(connection, url.path, std::strlen(url.path)) &&
                write_all(connection, " HTTP/1.1\r\nHost: ", 17) &&
                write_all(connection, host_line, std::strlen(host_line)) &&
                write_all(connection, "\r\nUser-Agent: ", 14) &&
                write_all(connection, user_agent, std::strlen(user_agent)) &&
                write_all(connection, "\r\nConnection: close\r\n\r\n", 23);
    if (!sent) {
        connection.close();
        std::snprintf(result.result, sizeof result.result, "failed:download");
        return result;
    }

    ImageSink sink(offer, writer, result);
    ResponseParser parser;
    parser.set_sink(&sink);
    while (!parser.complete()) {
        long got = connection.read(io_, sizeof io_);
        if (got < 0) break;
        if (got == 0) {
            parser.on_close();
            break;
        }
        if (!parser.feed(io_, static_cast<size_t>(got))) break;
    }
    connection.close();

    if (!sink.failed()) {
        if (result.status == 0) {
            std::snprintf(result.result, sizeof result.result, "failed:download");
        } else if (result.received != offer.size) {
            // Fewer bytes than signed for: a dropped connection or a truncated object.
            std::snprintf(result.result, sizeof result.result, "failed:size");
        } else {
            char digest[65];
            sink.digest_hex(digest);
            if (std::strcmp(digest, offer.sha256) != 0) {
                std::snprintf(result.result, sizeof result.result, "failed:sha256");
            } else if (!writer.finish()) {
                std::snprintf(result.result, sizeof result.result, "failed:flash-end");
                return result;
            } else {
                std::snprintf(result.result, sizeof result.result, "ok");
                result.ok = true;
                return result;
            }
        }
    }
    if (sink.begun()) writer.abort();
    return result;
}

}  // namespace camcloud
