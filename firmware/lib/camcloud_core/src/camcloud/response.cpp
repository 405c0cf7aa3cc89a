#include "camcloud/response.h"

#include <cstring>

namespace camcloud {

namespace {

// Header bytes beyond this mean the peer is not the ingest; stop instead of reading forever.
constexpr size_t kMaxHeadBytes = 8192;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(const char* text, const char* prefix) {
    for (; *prefix != '\0'; ++text, ++prefix) {
        if (lower(*text) != *prefix) return false;
    }
    return true;
}

const char* skip_spaces(const char* p) {
    while (*p == ' ' || *p == '\t') ++p;
    return p;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `count` digits.
bool read_digits(const char*& p, int count, int& value) {
    value = 0;
    for (int i = 0; i < count; ++i, ++p) {
        if (!is_digit(*p)) return false;
        value = value * 10 + (*p - '0');
    }
    return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t parse_imf_fixdate(const char* p) {
    static const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
    const char* comma = std::strchr(p, ',');
    if (comma == nullptr) return -1;
    p = skip_spaces(comma + 1);
    int day, year, hour, minute, second;
    if (!read_digits(p, 2, day) || *p++ != ' ') return -1;
    unsigned month = 0;
    for (unsigned i = 0; i < 12; ++i) {
        if (starts_with_nocase(p, kMonths[i])) month = i + 1;
    }
    if (month == 0) return -1;
    p += 3;
    if (*p++ != ' ' || !read_digits(p, 4, year) || *p++ != ' ') return -1;
    if (!read_digits(p, 2, hour) || *p++ != ':' || !read_digits(p, 2, minute) || *p++ != ':' ||
        !read_digits(p, 2, second)) {
        return -1;
    }
    if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return -1;
    return days_from_civil(year, month, static_cast<unsigned>(day)) * 86400 + hour * 3600 +
           minute * 60 + second;
}

}  // namespace

int32_t parse_retry_after(const char* value, int64_t now_unix) {
    if (value == nullptr) return -1;
    const char* p = skip_spaces(value);
    if (is_digit(*p)) {
        int64_t seconds = 0;
        for (; is_digit(*p); ++p) {
            seconds = seconds * 10 + (*p - '0');
            if (seconds > 0x7fffffff) seconds = 0x7fffffff;
        }
        p = skip_spaces(p);
        return *p == '\0' ? static_cast<int32_t>(seconds) : -1;
    }
    if (now_unix < 0) return -1;
    int64_t when = parse_imf_fixdate(p);
    if (when < 0) return -1;
    int64_t delta = when - now_unix;
    if (delta < 0) return 0;
    return delta > 0x7fffffff ? 0x7fffffff : static_cast<int32_t>(delta);
}

// ---- JSON -----------------------------------------------------------------------------------

namespace {

struct JsonCursor {
    const char* p;
    const char* end;
    bool at_end() const { return p >= end; }
    void skip_ws() {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) ++p;
    }
};

// Reads a string at the cursor (which is on the opening quote) into out (may be null); escapes
// other than the simple ones are kept as '?'.
bool read_string(JsonCursor& c, char* out, size_t out_size) {
    if (c.at_end() || *c.p != '"') return false;
    ++c.p;
    size_t n = 0;
    while (!c.at_end()) {
        char ch = *c.p++;
        if (ch == '"') {
            if (out != nullptr && out_size > 0) out[n < out_size ? n : out_size - 1] = '\0';
            return true;
        }
        if (ch == '\\') {
            if (c.at_end()) return false;
            char e = *c.p++;
            switch (e) {
                case 'n': ch = '\n'; break;
                case 't': ch = '\t'; break;
                case 'r': ch = '\r'; break;
                case 'b': ch = '\b'; break;
                case 'f': ch = '\f'; break;
                case 'u':
                    for (int i = 0; i < 4 && !c.at_end(); ++i) ++c.p;
                    ch = '?';
                    break;
                default: ch = e; break;  // \" \\ \/
            }
        }
        if (out != nullptr && n + 1 < out_size) out[n++] = ch;
    }
    return false;
}

// Skips one value of any type; false when the text ends or breaks first.
bool skip_value(JsonCursor& c) {
    c.skip_ws();
    if (c.at_end()) return false;
    if (*c.p == '"') return read_string(c, nullptr, 0);
    if (*c.p == '{' || *c.p == '[') {
        int depth = 0;
        while (!c.at_end()) {
            char ch = *c.p;
            if (ch == '"') {
                if (!read_string(c, nullptr, 0)) return false;
                continue;
            }
            ++c.p;
            if (ch == '{' || ch == '[') ++depth;
            if (ch == '}' || ch == ']') {
                if (--depth == 0) return true;
            }
        }
        return false;
    }
    // A literal or a number runs to the next delimiter.
    const char* start = c.p;
    while (!c.at_end() && *c.p != ',' && *c.p != '}' && *c.p != ']' && *c.p != ' ' &&
           *c.p != '\n' && *c.p != '\r' && *c.p != '\t') {
        ++c.p;
    }
    return c.p > start;
}

bool read_literal_true(JsonCursor& c) {
    c.skip_ws();
    bool is_true = (c.end - c.p) >= 4 && std::strncmp(c.p, "true", 4) == 0;
    return skip_value(c) && is_true;
}

}  // namespace

void parse_response_body(const char* json, size_t len, ResponseBody& body) {
    body = ResponseBody{};
    if (json == nullptr) return;
    JsonCursor c{json, json + len};
    c.skip_ws();
    if (c.at_end() || *c.p != '{') return;
    ++c.p;
    while (true) {
        c.skip_ws();
        if (c.at_end() || *c.p == '}') return;
        char key[24];
        if (!read_string(c, key, sizeof key)) return;
        c.skip_ws();
        if (c.at_end() || *c.p != ':') return;
        ++c.p;
        c.skip_ws();
        bool ok;
        if (std::strcmp(key, "duplicate") == 0) {
            body.duplicate = read_literal_true(c);
            ok = true;
        } else if (std::strcmp(key, "queued") == 0) {
            body.queued = read_literal_true(c);
            ok = true;
        } else if (std::strcmp(key, "error") == 0 && !c.at_end() && *c.p == '"') {
            ok = read_string(c, body.error, sizeof body.error);
        } else if (std::strcmp(key, "id") == 0 && !c.at_end() && *c.p == '"') {
            ok = read_string(c, body.id, sizeof body.id);
        } else {
            ok = skip_value(c);
        }
        if (!ok) return;
        c.skip_ws();
        if (c.at_end() || *c.p != ',') return;
        ++c.p;
    }
}

// ---- HTTP -----------------------------------------------------------------------------------

ResponseParser::ResponseParser(int64_t now_unix) : now_unix_(now_unix) {}

bool ResponseParser::take_line(uint8_t c) {
    if (c == '\n') {
        if (line_len_ > 0 && line_[line_len_ - 1] == '\r') --line_len_;
        line_[line_len_] = '\0';
        return true;
    }
    if (line_len_ + 1 < kLineCapacity) {
        line_[line_len_++] = static_cast<char>(c);
    } else {
        line_overflow_ = true;  // the rest of an over-long line is dropped
    }
    return false;
}

bool ResponseParser::on_status_line() {
    const char* p = line_;
    if (std::strncmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]) || p[8] != ' ') return false;
    p += 9;
    int code;
    if (!read_digits(p, 3, code) || (*p != ' ' && *p != '\0') || code < 100 || code > 599) {
        return false;
    }
    status_ = code;
    return true;
}

bool ResponseParser::on_header_line() {
    if (line_overflow_) return true;  // not one of ours: ours are short
    if (starts_with_nocase(line_, "content-length:")) {
        const char* p = skip_spaces(line_ + 15);
        if (!is_digit(*p)) return false;
        int64_t n = 0;
        for (; is_digit(*p); ++p) {
            n = n * 10 + (*p - '0');
            if (n > (int64_t{1} << 40)) return false;
        }
        content_length_ = n;
    } else if (starts_with_nocase(line_, "transfer-encoding:")) {
        for (const char* p = line_ + 18; *p != '\0'; ++p) {
            if (starts_with_nocase(p, "chunked")) chunked_ = true;
        }
    } else if (starts_with_nocase(line_, "retry-after:")) {
        retry_after_s_ = parse_retry_after(line_ + 12, now_unix_);
    }
    return true;
}

bool ResponseParser::keep_body(const uint8_t* data, size_t len) {
    size_t room = kBodyCapacity - body_len_;
    size_t n = len < room ? len : room;
    std::memcpy(body_ + body_len_, data, n);
    body_len_ += n;
    body_[body_len_] = '\0';
    return sink_ == nullptr || len == 0 || sink_->on_body(data, len);
}

bool ResponseParser::head_done() {
    return sink_ == nullptr || sink_->on_head(status_, content_length_);
}

bool ResponseParser::feed(const uint8_t* data, size_t len) {
    size_t i = 0;
    while (i < len && state_ != State::done && state_ != State::failed) {
        switch (state_) {
            case State::status_line:
            case State::header_line:
            case State::chunk_size:
            case State::chunk_data_end:
            case State::chunk_trailer: {
                if (state_ == State::status_line || state_ == State::header_line) {
                    if (++head_bytes_ > kMaxHeadBytes) {
                        state_ = State::failed;
                        break;
                    }
                }
                if (!take_line(data[i++])) break;
                bool ok = true;
                if (state_ == State::status_line) {
                    ok = !line_overflow_ && on_status_line();
                    state_ = State::header_line;
                } else if (state_ == State::header_line && line_len_ > 0) {
                    ok = on_header_line();
                } else if (state_ == State::header_line) {
                    if (status_ < 200) {  // an interim 1xx: the real response follows
                        state_ = State::status_line;
                        content_length_ = -1;
                        chunked_ = false;
                        retry_after_s_ = -1;
                    } else if (!head_done()) {
                        ok = false;
                    } else if (status_ == 204 || status_ == 304) {
                        state_ = State::done;
                    } else if (chunked_) {
                        state_ = State::chunk_size;
                    } else if (content_length_ >= 0) {
                        remaining_ = static_cast<uint64_t>(content_length_);
                        state_ = remaining_ == 0 ? State::done : State::body_length;
                    } else {
                        state_ = State::body_until_close;
                    }
                } else if (state_ == State::chunk_size) {
                    uint64_t size = 0;
                    const char* p = line_;
                    int digits = 0;
                    for (;; ++p, ++digits) {
                        char ch = lower(*p);
                        int v = is_digit(ch) ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
                        if (v < 0) break;
                        if (digits >= 10) return (state_ = State::failed), false;
                        size = size * 16 + static_cast<uint64_t>(v);
                    }
                    ok = digits > 0 && (*p == '\0' || *p == ';' || *p == ' ');
                    remaining_ = size;
                    state_ = size == 0 ? State::chunk_trailer : State::chunk_data;
                } else if (state_ == State::chunk_data_end) {
                    ok = line_len_ == 0;
                    state_ = State::chunk_size;
                } else if (state_ == State::chunk_trailer && line_len_ == 0) {
                    state_ = State::done;
                }
                line_len_ = 0;
                line_overflow_ = false;
                if (!ok) state_ = State::failed;
                break;
            }
            case State::body_length:
            case State::chunk_data: {
                size_t n = len - i;
                if (n > remaining_) n = static_cast<size_t>(remaining_);
                if (!keep_body(data + i, n)) {
                    state_ = State::failed;
                    break;
                }
                i += n;
                remaining_ -= n;
                if (remaining_ == 0) {
                    state_ = state_ == State::body_length ? State::done : State::chunk_data_end;
                }
                break;
            }
            case State::body_until_close:
                if (!keep_body(data + i, len - i)) state_ = State::failed;
                i = len;
                break;
            case State::done:
            case State::failed: break;
        }
    }
    return state_ != State::failed;
}

void ResponseParser::on_close() {
    if (state_ == State::body_until_close) state_ = State::done;
}

}  // namespace camcloud
