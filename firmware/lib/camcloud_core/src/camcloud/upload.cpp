#include "camcloud/upload.h"

#include <cstring>

namespace camcloud {

uint8_t MemoryFrameSource::read(uint8_t* buffer, uint8_t max) {
    uint32_t left = size_ - offset_;
    uint8_t n = left < max ? static_cast<uint8_t>(left) : max;
    std::memcpy(buffer, data_ + offset_, n);
    offset_ += n;
    return n;
}

namespace {

// The request head into ``out``; a head too long with the report-back headers goes without
// them (the report waits for the next request, the frame is not lost).
template <typename Request>
size_t head_with_report(const Request& request, size_t (*build)(const Request&, char*, size_t),
                        char* out, size_t out_size, bool* report_sent) {
    size_t head = build(request, out, out_size);
    *report_sent = head > 0 && request.report != nullptr;
    if (head == 0 && request.report != nullptr) {
        Request without = request;
        without.report = nullptr;
        head = build(without, out, out_size);
    }
    return head;
}

}  // namespace

bool Uploader::write_all(Connection& connection, const uint8_t* data, size_t len) {
    while (len > 0) {
        long sent = connection.write(data, len);
        if (sent <= 0 || static_cast<size_t>(sent) > len) return false;
        data += sent;
        len -= static_cast<size_t>(sent);
    }
    return true;
}

UploadResult& Uploader::finish(Connection& connection, int64_t now_unix, TransportError
                               if_incomplete, UploadResult& result, DeviceState* state) {
    ResponseParser parser(now_unix);
    // The JSON is read as it arrives, so an answer longer than the parser's log copy (a state
    // with a presigned firmware URL) is still read whole, into fixed fields.
    StateJsonReader reader(result.body, state);
    parser.set_sink(&reader);
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
    if (state != nullptr && !(parser.complete() && reader.finished())) state->complete = false;
    if (!parser.complete()) {
        // No answer after a full request: it may well have been stored. The retry reuses the
        // capture id, so the ingest answers "duplicate" instead of storing it twice.
        result.error = parser.failed() && if_incomplete == TransportError::no_response
                           ? TransportError::bad_response
                           : if_incomplete;
        return result;
    }
    result.error = TransportError::none;
    result.status = parser.status();
    result.retry_after_s = parser.retry_after_s();
    std::memcpy(last_body_, parser.body(), parser.body_length() + 1);
    return result;
}

UploadResult Uploader::upload(Connection& connection, FrameSource& source,
                              const UploadRequest& request, int64_t now_unix, DeviceState* state) {
    if (state != nullptr) state->present = state->complete = false;
    UploadResult result;
    last_body_[0] = '\0';
    size_t head = head_with_report(request, &build_request_head, reinterpret_cast<char*>(io_),
                                   sizeof io_, &result.report_sent);
    if (head == 0) {
        result.error = TransportError::bad_request;
        return result;
    }
    result.head_bytes = static_cast<uint32_t>(head);
    if (!connection.connect(request.url->host, request.url->port)) {
        connection.close();
        result.error = TransportError::connect_failed;
        return result;
    }
    if (!write_all(connection, io_, head)) {
        return finish(connection, now_unix, TransportError::write_failed, result, state);
    }

    // The body: fill the buffer with camera-sized reads, then hand it to the socket.
    uint32_t remaining = request.content_length;
    while (remaining > 0) {
        size_t filled = 0;
        while (filled < sizeof io_ && remaining > 0) {
            size_t want = sizeof io_ - filled;
            if (want > kMaxSourceRead) want = kMaxSourceRead;
            if (want > remaining) want = remaining;
            uint8_t got = source.read(io_ + filled, static_cast<uint8_t>(want));
            if (got == 0 || got > want) {
                // Sending fewer bytes than announced would leave the server waiting for the rest;
                // closing makes it see a truncated request at once.
                connection.close();
                result.error = TransportError::source_ended;
                return result;
            }
            filled += got;
            remaining -= got;
            result.source_bytes += got;
        }
        if (!write_all(connection, io_, filled)) {
            // A server may answer before the body is in (429, 401, 413) and close: that answer,
            // when it made it into the receive buffer, says more than the broken pipe.
            return finish(connection, now_unix, TransportError::write_failed, result, state);
        }
    }

    return finish(connection, now_unix, TransportError::no_response, result, state);
}

UploadResult Uploader::check_in(Connection& connection, const StateRequest& request,
                                int64_t now_unix, DeviceState* state) {
    UploadResult result;
    last_body_[0] = '\0';
    if (state != nullptr) state->present = state->complete = false;
    size_t head = head_with_report(request, &build_state_request_head,
                                   reinterpret_cast<char*>(io_), sizeof io_, &result.report_sent);
    if (head == 0) {
        result.error = TransportError::bad_request;
        return result;
    }
    result.head_bytes = static_cast<uint32_t>(head);
    if (!connection.connect(request.url->host, request.url->port)) {
        connection.close();
        result.error = TransportError::connect_failed;
        return result;
    }
    if (!write_all(connection, io_, head)) {
        return finish(connection, now_unix, TransportError::write_failed, result, state);
    }
    return finish(connection, now_unix, TransportError::no_response, result, state);
}

}  // namespace camcloud
