// Response parsing: every status of the device protocol, Retry-After, the JSON fields, odd framings.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "camcloud/response.h"
#include "camcloud/retry.h"

using namespace camcloud;

namespace {

struct Parsed {
    bool complete;
    bool failed;
    int status;
    int32_t retry_after_s;
    std::string body_text;
    ResponseBody body;
};

// Feeds the response in pieces of `piece` bytes, then reports the close of the connection.
Parsed parse(const std::string& wire, size_t piece = 4096, bool close_at_end = true) {
    ResponseParser parser(1767225600);
    for (size_t i = 0; i < wire.size() && !parser.complete() && !parser.failed(); i += piece) {
        parser.feed(reinterpret_cast<const uint8_t*>(wire.data()) + i,
                    std::min(piece, wire.size() - i));
    }
    if (close_at_end) parser.on_close();
    Parsed p{parser.complete(), parser.failed(), parser.status(), parser.retry_after_s(),
             std::string(parser.body(), parser.body_length()), ResponseBody{}};
    parse_response_body(parser.body(), parser.body_length(), p.body);
    return p;
}

std::string json_response(int status, const char* reason, const std::string& json,
                          const std::string& extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(json.size()) +
           "\r\n" + extra_headers + "\r\n" + json;
}

Verdict verdict_of(const Parsed& p) {
    RetryPolicy policy;
    return decide(policy, 0, TransportError::none, p.status, p.retry_after_s, p.body.duplicate, 0)
        .verdict;
}

const char* kStored =
    R"({"id": "a0b7650c1dfe-17-42", "device": "demo-cam", "key": "raw/demo-cam/8232774399999_a0b7650c1dfe-17-42.jpg", "bytes": 312345, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "captured_at": "2026-01-01T00:00:00Z"})";

}  // namespace

TEST_SUITE("response") {
    TEST_CASE("201: stored, with the capture's id") {
        Parsed p = parse(json_response(201, "CREATED", kStored));
        CHECK(p.complete);
        CHECK(p.status == 201);
        CHECK(std::string(p.body.id) == "a0b7650c1dfe-17-42");
        CHECK_FALSE(p.body.duplicate);
        CHECK(verdict_of(p) == Verdict::stored);
    }

    TEST_CASE("200 with duplicate: an earlier attempt already stored the capture") {
        Parsed p = parse(json_response(
            200, "OK", R"({"id": "c-1", "device": "demo-cam", "bytes": 9, "duplicate": true})"));
        CHECK(p.status == 200);
        CHECK(p.body.duplicate);
        CHECK(verdict_of(p) == Verdict::duplicate);
    }

    TEST_CASE("202 with queued: the ingest spooled it while S3 is away") {
        Parsed p = parse(json_response(202, "ACCEPTED", R"({"id": "c-1", "queued": true})"));
        CHECK(p.status == 202);
        CHECK(p.body.queued);
        CHECK(verdict_of(p) == Verdict::queued);
    }

    TEST_CASE("every error status of the device protocol is parsed with its JSON error code") {
        struct Case {
            int status;
            const char* code;
            const char* extra;
            Verdict verdict;
            int32_t retry_after;
        };
        // The codes are the ingest's own (ingest/upload.py, ingest/body.py, ingest/auth.py).
        const Case cases[] = {
            {400, "not_jpeg", "", Verdict::give_up, -1},
            {400, "truncated", "", Verdict::give_up, -1},
            {400, "empty", "", Verdict::give_up, -1},
            {400, "incomplete", "", Verdict::give_up, -1},
            {400, "bad_capture_id", "", Verdict::give_up, -1},
            {401, "missing_key", "", Verdict::give_up, -1},
            {401, "bad_key", "", Verdict::give_up, -1},
            {403, "revoked", "", Verdict::give_up, -1},
            {403, "device_mismatch", "", Verdict::give_up, -1},
            {411, "length_required", "", Verdict::give_up, -1},
            {413, "too_large", "", Verdict::give_up, -1},
            {415, "unsupported_media_type", "", Verdict::give_up, -1},
            {429, "rate_limited", "Retry-After: 7\r\n", Verdict::retry, 7},
            {503, "spool_full", "Retry-After: 30\r\n", Verdict::retry, 30},
            {503, "storage_unavailable", "Retry-After: 30\r\n", Verdict::retry, 30},
        };
        for (const Case& c : cases) {
            CAPTURE(c.status);
            CAPTURE(c.code);
            std::string json = std::string(R"({"error": ")") + c.code +
                               R"(", "message": "see \"docs\" \\ details"})";
            Parsed p = parse(json_response(c.status, "X", json, c.extra));
            CHECK(p.complete);
            CHECK(p.status == c.status);
            CHECK(std::string(p.body.error) == c.code);
            CHECK(p.retry_after_s == c.retry_after);
            CHECK(verdict_of(p) == c.verdict);
        }
    }

    TEST_CASE("a response arriving one byte at a time parses the same") {
        std::string wire = json_response(429, "TOO MANY REQUESTS", R"({"error": "rate_limited"})",
                                         "Retry-After: 12\r\n");
        Parsed p = parse(wire, 1, false);
        CHECK(p.complete);
        CHECK(p.status == 429);
        CHECK(p.retry_after_s == 12);
        CHECK(std::string(p.body.error) == "rate_limited");
    }

    TEST_CASE("header names are case-insensitive") {
        Parsed p = parse(
            "HTTP/1.1 429 Too Many\r\ncontent-length: 2\r\nRETRY-AFTER:   3  \r\n\r\n{}");
        CHECK(p.complete);
        CHECK(p.retry_after_s == 3);
    }

    TEST_CASE("Retry-After as an HTTP date counts from the camera's clock") {
        // 1767225600 is Thu, 01 Jan 2026 00:00:00 GMT
        CHECK(parse_retry_after("Thu, 01 Jan 2026 00:01:30 GMT", 1767225600) == 90);
        CHECK(parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", 1767225600) == 0);
        CHECK(parse_retry_after("Thu, 01 Jan 2026 00:01:30 GMT", -1) == -1);  // no clock yet
        CHECK(parse_retry_after("120", -1) == 120);
        CHECK(parse_retry_after(" 0 ", -1) == 0);
        CHECK(parse_retry_after("soon", 1767225600) == -1);
        CHECK(parse_retry_after("-5", 1767225600) == -1);
        CHECK(parse_retry_after("99999999999", -1) == 0x7fffffff);
    }

    TEST_CASE("a chunked response is decoded") {
        Parsed p = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "a\r\n{\"id\": \"c\"\r\n"
            "14;ext=1\r\n, \"duplicate\": true}\r\n"
            "0\r\n\r\n",
            3, false);
        CHECK(p.complete);
        CHECK(p.body_text == R"({"id": "c", "duplicate": true})");
        CHECK(p.body.duplicate);
    }

    TEST_CASE("a body without a length ends when the connection closes") {
        std::string wire = "HTTP/1.0 201 CREATED\r\nContent-Type: application/json\r\n\r\n{\"id\": \"x\"}";
        CHECK_FALSE(parse(wire, 4096, false).complete);
        Parsed p = parse(wire, 4096, true);
        CHECK(p.complete);
        CHECK(std::string(p.body.id) == "x");
    }

    TEST_CASE("an interim 100 Continue is skipped") {
        Parsed p = parse("HTTP/1.1 100 Continue\r\n\r\n" + json_response(201, "CREATED", kStored));
        CHECK(p.complete);
        CHECK(p.status == 201);
    }

    TEST_CASE("a response cut before its end is not complete") {
        std::string wire = json_response(201, "CREATED", kStored);
        CHECK_FALSE(parse(wire.substr(0, wire.size() - 5)).complete);
        CHECK_FALSE(parse(wire.substr(0, 20)).complete);
    }

    TEST_CASE("bytes that are not HTTP fail the parse") {
        CHECK(parse("SSH-2.0-OpenSSH_9.2\r\n").failed);
        CHECK(parse("HTTP/1.1 2000 OK\r\n\r\n").failed);
        CHECK(parse("HTTP/1.1 99 Low\r\n\r\n").failed);
        CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n").failed);
        CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").failed);
        CHECK(parse("HTTP/1.1 200 OK\r\n" + std::string(9000, 'x')).failed);
    }

    TEST_CASE("a long body is kept up to the buffer and the rest is still consumed") {
        std::string json = R"({"id": "c", "pad": ")" + std::string(4000, 'p') + R"("})";
        Parsed p = parse(json_response(201, "CREATED", json), 100, false);
        CHECK(p.complete);
        CHECK(p.body_text.size() == ResponseParser::kBodyCapacity);
        CHECK(std::string(p.body.id) == "c");
    }

    TEST_CASE("the JSON reader skips what it does not know and survives damage") {
        ResponseBody body;
        std::string nested =
            R"({"meta": {"a": [1, {"b": "}"}], "s": "x\"y"}, "n": -1.5e3, "ok": null, "duplicate": true, "error": "e\u0041"})";
        parse_response_body(nested.data(), nested.size(), body);
        CHECK(body.duplicate);
        CHECK(std::string(body.error) == "e?");

        std::string cut = R"({"error": "too_large", "message": "over 8 Mi)";
        parse_response_body(cut.data(), cut.size(), body);
        CHECK(std::string(body.error) == "too_large");

        std::string not_json = "<html>502 Bad Gateway</html>";
        parse_response_body(not_json.data(), not_json.size(), body);
        CHECK(body.error[0] == '\0');
        CHECK_FALSE(body.duplicate);

        std::string falsy = R"({"duplicate": false, "queued": "true"})";
        parse_response_body(falsy.data(), falsy.size(), body);
        CHECK_FALSE(body.duplicate);
        CHECK_FALSE(body.queued);

        std::string long_code = R"({"error": ")" + std::string(100, 'z') + R"("})";
        parse_response_body(long_code.data(), long_code.size(), body);
        CHECK(std::strlen(body.error) == sizeof body.error - 1);
    }
}
