// The "state" object of the ingest's answers (protocol v1.1), read byte by byte into fixed
// fields: config, capture commands, the firmware offer; unknown fields ignored, overflow refused.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>

#include "camcloud/device_state.h"
#include "camcloud/upload.h"
#include "fakes.h"

using namespace camcloud;

namespace {

const char kDocExample[] =
    R"({"id": "A4CF12-17-203", "state": {"config": {"version": 3, "interval_s": 300,)"
    R"( "image_mode": "qxga", "jpeg_quality": "default", "pir": false, "battery_mode": false,)"
    R"( "active_hours": "06:30-20:00", "checkin_s": 60},)"
    R"( "commands": [{"id": "3f9a0c11d2", "type": "capture"}], "firmware": null}})";

// Reads json in pieces of `piece` bytes, as the socket delivers it.
DeviceState read_state(const std::string& json, size_t piece, ResponseBody* body_out = nullptr) {
    ResponseBody body;
    DeviceState state;
    StateJsonReader reader(body, &state);
    for (size_t i = 0; i < json.size(); i += piece) {
        reader.feed(reinterpret_cast<const uint8_t*>(json.data()) + i,
                    std::min(piece, json.size() - i));
    }
    if (body_out != nullptr) *body_out = body;
    return state;
}

std::string offer_json(const std::string& url, const std::string& extra = "") {
    return R"({"state": {"config": {"version": 0}, "commands": [], "firmware": {"version": "1.2.0", "url": ")" +
           url + R"(", "size": 61, "sha256": "e6719e27b47422816e72acc3c385071786372ccad6a4b0be6e61666a4f64ece5", "signature": ")" +
           std::string(128, 'a') + R"(", "force": false)" + extra + R"(}}, "id": "cam-1-2"})";
}

}  // namespace

TEST_CASE("the documented state is read whole, whatever the socket's piece size") {
    for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}}) {
        ResponseBody body;
        DeviceState state = read_state(kDocExample, piece, &body);
        CHECK(state.present);
        CHECK(state.complete);
        CHECK(state.config.present);
        CHECK(state.config.version == 3);
        CHECK(state.config.interval_s == 300);
        CHECK(std::string(state.config.image_mode) == "qxga");
        CHECK(std::string(state.config.jpeg_quality) == "default");
        CHECK(state.config.has_pir);
        CHECK_FALSE(state.config.pir);
        CHECK(std::string(state.config.active_hours) == "06:30-20:00");
        CHECK(state.config.checkin_s == 60);
        REQUIRE(state.command_count == 1);
        CHECK(std::string(state.commands[0].id) == "3f9a0c11d2");
        CHECK_FALSE(state.firmware.present);
        CHECK(std::string(body.id) == "A4CF12-17-203");
    }
}

TEST_CASE("a presigned URL of 1000 characters is read into the offer, and fields after it still count") {
    std::string prefix = "https://bucket.s3.amazonaws.com/firmware/1.2.0/firmware.bin?X-Amz-Signature=";
    std::string url = prefix + std::string(1000 - prefix.size(), 'x');
    REQUIRE(url.size() == 1000);
    ResponseBody body;
    DeviceState state = read_state(offer_json(url), 3, &body);
    CHECK(state.complete);
    CHECK(state.firmware.present);
    CHECK(std::string(state.firmware.url) == url);
    CHECK(state.firmware.size == 61);
    CHECK_FALSE(state.firmware.force);
    CHECK(std::string(body.id) == "cam-1-2");  // after the state, beyond the parser's log copy
}

TEST_CASE("regression: a URL over 1024 characters is refused without writing past its field") {
    std::string url = "https://h/" + std::string(1100, 'y');
    ResponseBody body;
    DeviceState state = read_state(offer_json(url), 64, &body);
    CHECK(state.complete);
    CHECK_FALSE(state.firmware.present);
    CHECK(state.firmware.overflow);
    CHECK(std::strlen(state.firmware.url) == kOfferUrlCapacity - 1);
    CHECK(state.firmware.size == 61);          // the next field landed where it belongs
    CHECK(std::string(body.id) == "cam-1-2");
}

TEST_CASE("unknown fields, nested values and escapes are skipped") {
    std::string json =
        R"({"new_top": {"a": [1, {"b": "}]"}]}, "state": {"zzz": [[]], "config": {"version": 4,)"
        R"( "future": {"x": true}, "image_mode": "v\u0067a", "interval_s": 60}, "commands": [],)"
        R"( "firmware": null, "more": "x\"y"}, "duplicate": true})";
    ResponseBody body;
    DeviceState state = read_state(json, 5, &body);
    CHECK(state.complete);
    CHECK(state.config.version == 4);
    CHECK(state.config.interval_s == 60);
    CHECK(std::string(state.config.image_mode) == "v?a");  // never mistaken for a valid mode
    CHECK(body.duplicate);
}

TEST_CASE("commands: malformed ids, other types and more than eight are dropped") {
    std::string json = R"({"state": {"commands": [{"id": "BAD ID", "type": "capture"},)"
                       R"( {"id": "a1", "type": "reboot"}, "bare", )";
    for (int i = 0; i < 10; ++i) {
        json += R"({"type": "capture", "id": "c)" + std::to_string(i) + R"("}, )";
    }
    json += R"({"id": "c99", "type": "capture"}]}})";
    DeviceState state = read_state(json, 11);
    CHECK(state.complete);
    CHECK(state.command_count == kMaxCommands);
    CHECK(std::string(state.commands[0].id) == "c0");
    CHECK(std::string(state.commands[7].id) == "c7");
    CHECK(state.commands_dropped == 3 + 3);
}

TEST_CASE("a truncated answer never acts on its state") {
    std::string json = kDocExample;
    DeviceState state = read_state(json.substr(0, json.size() - 1), 16);
    CHECK(state.present);
    CHECK_FALSE(state.complete);
}

TEST_CASE("an answer without a state, or with state null, has none") {
    CHECK_FALSE(read_state(R"({"id": "x-1-1"})", 4).present);
    CHECK_FALSE(read_state(R"({"id": "x-1-1", "state": null})", 4).present);
    CHECK_FALSE(read_state("<html>502</html>", 4).present);
}

TEST_CASE("an upload's answer fills the state through the uploader, with the body fields") {
    camcloud_test::ScriptedConnection connection;
    std::string offered = "http://127.0.0.1:9000/firmware/1.2.0/firmware.bin?X-Amz-Signature=" +
                          std::string(700, 'z');
    std::string json = offer_json(offered);
    REQUIRE(json.size() > ResponseParser::kBodyCapacity);
    connection.response = "HTTP/1.1 201 CREATED\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t i = 0; i < json.size(); i += 300) {
        std::string chunk = json.substr(i, 300);
        char size[16];
        std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
        connection.response += size + chunk + "\r\n";
    }
    connection.response += "0\r\n\r\n";
    connection.read_piece = 97;
    std::vector<uint8_t> frame = camcloud_test::make_frame(3000);
    camcloud_test::FakeCamera camera(frame);
    UploadUrl url;
    REQUIRE(parse_upload_url("http://192.168.1.10:8080/upload", url));
    UploadRequest request;
    request.url = &url;
    request.device_key = "key";
    request.capture_id = "a0b7650c1dfe-1-0";
    request.content_length = static_cast<uint32_t>(frame.size());
    Uploader uploader;
    DeviceState state;
    UploadResult result = uploader.upload(connection, camera, request, -1, &state);
    CHECK(result.status == 201);
    CHECK(std::string(result.body.id) == "cam-1-2");
    CHECK(state.complete);
    CHECK(state.firmware.present);
    CHECK(std::string(state.firmware.url) == offered);
}

TEST_CASE("no answer, however mangled, writes past a field or crashes the reader") {
    // Mutations of real answers (bytes flipped, cut, repeated) and plain noise, fed in random
    // pieces; every field stays terminated inside its capacity.
    std::mt19937 random(16);
    std::string seeds[] = {kDocExample, offer_json("http://h/" + std::string(1100, 'u')),
                           offer_json("http://h/x")};
    const char alphabet[] = "{}[]\",:\\ u0123456789abcdefnrtl-.";
    for (int round = 0; round < 20000; ++round) {
        std::string json = seeds[random() % 3];
        int edits = 1 + static_cast<int>(random() % 8);
        for (int e = 0; e < edits && !json.empty(); ++e) {
            size_t at = random() % json.size();
            switch (random() % 4) {
                case 0: json[at] = alphabet[random() % (sizeof alphabet - 1)]; break;
                case 1: json.erase(at, 1 + random() % 20); break;
                case 2: json.insert(at, json.substr(at, random() % 40)); break;
                default: json[at] = static_cast<char>(random() & 0xff); break;
            }
        }
        if (round % 10 == 0) {
            json.clear();
            for (int i = 0; i < 200; ++i) json += alphabet[random() % (sizeof alphabet - 1)];
        }
        ResponseBody body;
        DeviceState state = read_state(json, 1 + random() % 64, &body);
        CHECK(std::strlen(body.error) < sizeof body.error);
        CHECK(std::strlen(body.id) < sizeof body.id);
        CHECK(std::strlen(state.firmware.url) < sizeof state.firmware.url);
        CHECK(std::strlen(state.firmware.version) < sizeof state.firmware.version);
        CHECK(std::strlen(state.firmware.signature) < sizeof state.firmware.signature);
        CHECK(std::strlen(state.config.image_mode) < sizeof state.config.image_mode);
        CHECK(std::strlen(state.config.active_hours) < sizeof state.config.active_hours);
        CHECK(state.command_count <= kMaxCommands);
        for (size_t i = 0; i < state.command_count; ++i) CHECK(is_valid_command_id(state.commands[i].id));
    }
}
