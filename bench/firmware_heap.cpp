// Heap and stack used by one firmware upload (host build of firmware/lib/camcloud_core) for
// 30 KB, 500 KB and 2 MB frames. The goal: the same at every size, <= 4 KiB of buffers
// (firmware/README.md, "Memory").
//
// Heap: malloc/calloc/realloc/free and operator new/delete are counted while the upload runs.
// Stack: the upload runs on a thread whose stack was painted beforehand; the deepest byte it
// changed, minus what an empty thread changes, is the upload's stack.
//
// The OTA run: one signed update of 100 KB, 1 MB and 4 MB streamed through the core's download
// into a flash writer, signature checked first, SHA-256 and size on the way. Issue 16 bound: the
// update adds <= 4 KiB of heap whatever the image size. The writer here models arduino-esp32's
// Update, which takes its 4 KiB sector buffer from the heap in begin(); the core adds none.
//
// Run: bash bench/firmware_heap.sh
#include <pthread.h>
#include <sodium.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "camcloud/ota.h"
#include "camcloud/request.h"
#include "camcloud/response.h"
#include "camcloud/upload.h"

extern "C" void* __libc_malloc(size_t);
extern "C" void* __libc_calloc(size_t, size_t);
extern "C" void* __libc_realloc(void*, size_t);
extern "C" void __libc_free(void*);

namespace {

thread_local bool t_counting = false;
std::atomic<uint64_t> g_allocations{0};
std::atomic<uint64_t> g_bytes{0};

void note(size_t size) {
    if (t_counting) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
        g_bytes.fetch_add(size, std::memory_order_relaxed);
    }
}

}  // namespace

extern "C" void* malloc(size_t size) {
    note(size);
    return __libc_malloc(size);
}
extern "C" void* calloc(size_t count, size_t size) {
    note(count * size);
    return __libc_calloc(count, size);
}
extern "C" void* realloc(void* pointer, size_t size) {
    note(size);
    return __libc_realloc(pointer, size);
}
extern "C" void free(void* pointer) { __libc_free(pointer); }

void* operator new(size_t size) {
    note(size);
    void* p = __libc_malloc(size == 0 ? 1 : size);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* pointer) noexcept { __libc_free(pointer); }
void operator delete[](void* pointer) noexcept { __libc_free(pointer); }
void operator delete(void* pointer, size_t) noexcept { __libc_free(pointer); }
void operator delete[](void* pointer, size_t) noexcept { __libc_free(pointer); }

namespace {

constexpr size_t kThreadStack = 512 * 1024;
constexpr uint8_t kPaint = 0xa5;

// The Arducam FIFO, without a frame buffer: bytes are made up as they are read.
class SyntheticCamera : public camcloud::FrameSource {
public:
    explicit SyntheticCamera(uint32_t size) : size_(size) {}
    uint8_t read(uint8_t* buffer, uint8_t max) override {
        uint32_t left = size_ - offset_;
        uint8_t n = left < max ? static_cast<uint8_t>(left) : max;
        for (uint8_t i = 0; i < n; ++i) {
            uint32_t at = offset_ + i;
            buffer[i] = at == 0 ? 0xff : at == 1 ? 0xd8 : at == size_ - 2 ? 0xff
                      : at == size_ - 1 ? 0xd9 : static_cast<uint8_t>(at * 131u);
        }
        offset_ += n;
        return n;
    }

private:
    uint32_t size_;
    uint32_t offset_ = 0;
};

// A WiFi socket: takes at most one TCP segment per write, then answers 201.
class CountingSocket : public camcloud::Connection {
public:
    bool connect(const char*, uint16_t) override { return true; }
    long write(const uint8_t*, size_t len) override {
        size_t n = len < 1460 ? len : 1460;
        sent += n;
        return static_cast<long>(n);
    }
    long read(uint8_t* data, size_t len) override {
        static const char kAnswer[] =
            "HTTP/1.1 201 CREATED\r\nContent-Type: application/json\r\nContent-Length: 24\r\n\r\n"
            "{\"id\": \"a0b7650c1dfe-1\"}";
        size_t left = sizeof kAnswer - 1 - offset;
        size_t n = left < len ? left : len;
        std::memcpy(data, kAnswer + offset, n);
        offset += n;
        return static_cast<long>(n);
    }
    void close() override {}
    uint64_t sent = 0;
    size_t offset = 0;
};

struct Run {
    uint32_t frame_size;
    bool empty;  // measure an empty thread: the baseline
    int status = 0;
    uint64_t body_sent = 0;
    uint64_t allocations = 0;
    uint64_t heap_bytes = 0;
};

void* upload_thread(void* argument) {
    Run* run = static_cast<Run*>(argument);
    if (run->empty) return nullptr;
    g_allocations = 0;
    g_bytes = 0;
    t_counting = true;
    {
        camcloud::UploadUrl url;
        camcloud::parse_upload_url("http://192.168.1.10:8080/upload", url);
        camcloud::Telemetry telemetry;
        telemetry.firmware = "1.0.0";
        telemetry.has_rssi = true;
        telemetry.rssi_dbm = -60;
        telemetry.free_heap = 180000;
        telemetry.boot_count = 1;
        telemetry.reset_reason = "power_on";
        telemetry.uptime_s = 60;
        camcloud::UploadRequest request;
        request.url = &url;
        request.device_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";
        request.capture_id = "a0b7650c1dfe-1-0";
        request.captured_at = 1767225600;
        request.content_length = run->frame_size;
        request.telemetry = &telemetry;
        SyntheticCamera camera(run->frame_size);
        CountingSocket socket;
        camcloud::Uploader uploader;  // on this thread's stack, buffers included
        camcloud::UploadResult result = uploader.upload(socket, camera, request);
        run->status = result.status;
        run->body_sent = socket.sent - result.head_bytes;
    }
    t_counting = false;
    run->allocations = g_allocations;
    run->heap_bytes = g_bytes;
    return nullptr;
}

// Runs one upload on a painted stack; returns the bytes of stack the thread touched.
size_t run_on_painted_stack(Run& run) {
    void* stack = mmap(nullptr, kThreadStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) std::abort();
    std::memset(stack, kPaint, kThreadStack);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstack(&attributes, stack, kThreadStack);
    pthread_t thread;
    if (pthread_create(&thread, &attributes, upload_thread, &run) != 0) std::abort();
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attributes);
    // The stack grows down: the lowest changed byte marks the deepest point reached.
    const uint8_t* bytes = static_cast<const uint8_t*>(stack);
    size_t untouched = 0;
    while (untouched < kThreadStack && bytes[untouched] == kPaint) ++untouched;
    munmap(stack, kThreadStack);
    return kThreadStack - untouched;
}

// ---- OTA ------------------------------------------------------------------------------------

uint8_t image_byte(uint32_t at) { return at == 0 ? 0xE9 : static_cast<uint8_t>((at * 131u) >> 3); }

// S3 answering the presigned GET: a head, then the image made up as it is read.
class ImageServer : public camcloud::Connection {
public:
    explicit ImageServer(uint32_t size) : size_(size) {
        head_len_ = static_cast<size_t>(std::snprintf(
            head_, sizeof head_, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                 "Content-Length: %lu\r\n\r\n", static_cast<unsigned long>(size)));
    }
    bool connect(const char*, uint16_t) override { return true; }
    long write(const uint8_t*, size_t len) override { return static_cast<long>(len); }
    long read(uint8_t* data, size_t len) override {
        size_t n = 0;
        // At most one TCP segment per read, as lwIP hands them over.
        if (len > 1460) len = 1460;
        while (n < len && head_offset_ < head_len_) data[n++] = static_cast<uint8_t>(head_[head_offset_++]);
        while (n < len && sent_ < size_) data[n++] = image_byte(sent_++);
        return static_cast<long>(n);
    }
    void close() override {}

private:
    uint32_t size_;
    char head_[160];
    size_t head_len_ = 0;
    size_t head_offset_ = 0;
    uint32_t sent_ = 0;
};

// arduino-esp32's Update as far as memory goes: begin() mallocs one flash sector (4096 bytes,
// Updater.cpp), writes go through it, end()/abort() free it. The bytes land nowhere.
class UpdateLikeWriter : public camcloud::FlashWriter {
public:
    bool begin(uint32_t size) override {
        buffer_ = static_cast<uint8_t*>(std::malloc(4096));
        size_ = size;
        return buffer_ != nullptr;
    }
    bool write(const uint8_t* data, size_t len) override {
        while (len > 0) {
            size_t n = len < 4096 - fill_ ? len : 4096 - fill_;
            std::memcpy(buffer_ + fill_, data, n);
            fill_ += n;
            data += n;
            len -= n;
            written += n;
            if (fill_ == 4096) fill_ = 0;  // a sector "written"
        }
        return true;
    }
    bool finish() override {
        std::free(buffer_);
        buffer_ = nullptr;
        return written == size_;
    }
    void abort() override {
        std::free(buffer_);
        buffer_ = nullptr;
    }
    uint64_t written = 0;

private:
    uint8_t* buffer_ = nullptr;
    size_t fill_ = 0;
    uint32_t size_ = 0;
};

struct OtaRun {
    uint32_t image_size;
    bool empty;
    camcloud::FirmwareOffer offer;  // prepared outside the measurement
    uint8_t public_key[32];
    bool ok = false;
    uint64_t written = 0;
    uint64_t allocations = 0;
    uint64_t heap_bytes = 0;
};

void* ota_thread(void* argument) {
    OtaRun* run = static_cast<OtaRun*>(argument);
    if (run->empty) return nullptr;
    g_allocations = 0;
    g_bytes = 0;
    t_counting = true;
    {
        camcloud::OfferCheck check =
            camcloud::check_offer(run->offer, "1.0.0", run->public_key, 16u * 1024u * 1024u);
        ImageServer server(run->image_size);
        UpdateLikeWriter writer;
        camcloud::OtaInstaller installer;  // on this thread's stack, its buffer included
        camcloud::OtaResult result = installer.install(server, run->offer, writer);
        run->ok = check == camcloud::OfferCheck::install && result.ok;
        run->written = writer.written;
    }
    t_counting = false;
    run->allocations = g_allocations;
    run->heap_bytes = g_bytes;
    return nullptr;
}

// Signs an offer for a synthetic image with the test vector's key (seed 00..1f).
void prepare_offer(OtaRun& run) {
    uint8_t seed[32], secret[64];
    for (int i = 0; i < 32; ++i) seed[i] = static_cast<uint8_t>(i);
    crypto_sign_seed_keypair(run.public_key, secret, seed);
    crypto_hash_sha256_state sha;
    crypto_hash_sha256_init(&sha);
    uint8_t chunk[4096];
    for (uint32_t at = 0; at < run.image_size;) {
        uint32_t n = run.image_size - at < sizeof chunk ? run.image_size - at : sizeof chunk;
        for (uint32_t i = 0; i < n; ++i) chunk[i] = image_byte(at + i);
        crypto_hash_sha256_update(&sha, chunk, n);
        at += n;
    }
    uint8_t digest[32];
    crypto_hash_sha256_final(&sha, digest);
    camcloud::FirmwareOffer& o = run.offer;
    o = camcloud::FirmwareOffer{};
    o.present = true;
    std::snprintf(o.version, sizeof o.version, "1.2.0");
    std::snprintf(o.url, sizeof o.url, "https://bucket.s3.amazonaws.com/firmware/1.2.0/firmware.bin?X-Amz-Signature=%0900d", 0);
    o.size = run.image_size;
    for (int i = 0; i < 32; ++i) std::snprintf(o.sha256 + 2 * i, 3, "%02x", digest[i]);
    char message[160];
    size_t len = camcloud::build_signed_message(o, message, sizeof message);
    uint8_t signature[64];
    crypto_sign_detached(signature, nullptr, reinterpret_cast<uint8_t*>(message), len, secret);
    for (int i = 0; i < 64; ++i) std::snprintf(o.signature + 2 * i, 3, "%02x", signature[i]);
}

size_t run_thread_on_painted_stack(void* (*body)(void*), void* run) {
    void* stack = mmap(nullptr, kThreadStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) std::abort();
    std::memset(stack, kPaint, kThreadStack);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstack(&attributes, stack, kThreadStack);
    pthread_t thread;
    if (pthread_create(&thread, &attributes, body, run) != 0) std::abort();
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attributes);
    const uint8_t* bytes = static_cast<const uint8_t*>(stack);
    size_t untouched = 0;
    while (untouched < kThreadStack && bytes[untouched] == kPaint) ++untouched;
    munmap(stack, kThreadStack);
    return kThreadStack - untouched;
}

// The OTA table; true when every run installed and the heap stayed within 4 KiB at every size.
bool ota_report() {
    // sodium_init() picks its implementations once per boot; the camera pays it at its first
    // signature check, not per update.
    if (sodium_init() < 0) return false;
    OtaRun baseline{0, true, {}, {0}};
    size_t base_stack = run_thread_on_painted_stack(ota_thread, &baseline);
    std::printf("\ncamcloud firmware: heap and stack of one signed update (host build)\n");
    std::printf("  Ed25519 check of the offer, download through one %zu-byte buffer, SHA-256 on the"
                " way;\n  the flash writer models Update (a 4096-byte sector buffer from the heap)\n\n",
                camcloud::OtaInstaller::kBufferSize);
    std::printf("  %-8s %12s %6s %12s %12s %14s\n", "image", "flashed", "ok", "heap allocs",
                "heap bytes", "stack bytes");
    const struct {
        const char* label;
        uint32_t size;
    } images[] = {{"100 KB", 100u * 1024}, {"1 MB", 1024u * 1024}, {"4 MB", 4u * 1024 * 1024}};
    bool all_ok = true;
    bool bounded = true;
    bool same = true;
    uint64_t first_heap = 0;
    size_t first_stack = 0;
    for (size_t i = 0; i < sizeof images / sizeof images[0]; ++i) {
        static OtaRun run;
        run = OtaRun{images[i].size, false, {}, {0}};
        prepare_offer(run);
        size_t stack = run_thread_on_painted_stack(ota_thread, &run) - base_stack;
        std::printf("  %-8s %12llu %6s %12llu %12llu %14zu\n", images[i].label,
                    static_cast<unsigned long long>(run.written), run.ok ? "yes" : "NO",
                    static_cast<unsigned long long>(run.allocations),
                    static_cast<unsigned long long>(run.heap_bytes), stack);
        all_ok = all_ok && run.ok && run.written == images[i].size;
        bounded = bounded && run.heap_bytes <= 4096;
        if (i == 0) {
            first_heap = run.heap_bytes;
            first_stack = stack;
        } else {
            same = same && run.heap_bytes == first_heap && stack == first_stack;
        }
    }
    std::printf("\n  update buffers: OtaInstaller %zu + ResponseParser %zu bytes; the answer's state"
                " (DeviceState) %zu bytes, static\n",
                sizeof(camcloud::OtaInstaller), sizeof(camcloud::ResponseParser),
                sizeof(camcloud::DeviceState));
    std::printf("  heap added by the update <= 4 KiB at every size: %s (all of it Update's sector"
                " buffer); same at every size: %s; installed: %s\n",
                bounded ? "yes" : "NO", same ? "yes" : "NO", all_ok ? "yes" : "NO");
    return all_ok && bounded && same;
}

}  // namespace

// Proves the counters see allocations, so that a 0 below means none happened.
bool allocator_counts() {
    g_allocations = 0;
    g_bytes = 0;
    t_counting = true;
    void* volatile probe = std::malloc(100);
    char* volatile object = new char[28];
    t_counting = false;
    std::free(probe);
    delete[] object;
    return g_allocations == 2 && g_bytes == 128;
}

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--only") == 0) {
        // One upload of the given size and nothing else: for valgrind massif, size by size.
        Run run{static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)), false};
        upload_thread(&run);
        return run.status == 201 ? 0 : 1;
    }
    if (!allocator_counts()) {
        std::printf("the counting allocator does not see allocations: figures would be wrong\n");
        return 1;
    }
    Run baseline{0, true};
    size_t base_stack = run_on_painted_stack(baseline);
    const size_t buffers = sizeof(camcloud::Uploader) + sizeof(camcloud::ResponseParser);

    std::printf("camcloud firmware: heap and stack of one upload (host build, %s)\n",
#ifdef NDEBUG
                "optimised"
#else
                "debug"
#endif
    );
    std::printf("  camera reads <= %u bytes, socket writes <= 1460 bytes, one %zu-byte I/O buffer\n\n",
                static_cast<unsigned>(camcloud::kMaxSourceRead), camcloud::kIoBufferSize);
    std::printf("  %-8s %12s %8s %12s %12s %14s\n", "frame", "body sent", "status", "heap allocs",
                "heap bytes", "stack bytes");
    const struct {
        const char* label;
        uint32_t size;
    } frames[] = {{"30 KB", 30u * 1024}, {"500 KB", 500u * 1024}, {"2 MB", 2u * 1024 * 1024}};
    bool same = true;
    bool complete = true;
    size_t first_stack = 0;
    uint64_t first_heap = 0;
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; ++i) {
        Run run{frames[i].size, false};
        size_t stack = run_on_painted_stack(run) - base_stack;
        std::printf("  %-8s %12llu %8d %12llu %12llu %14zu\n", frames[i].label,
                    static_cast<unsigned long long>(run.body_sent), run.status,
                    static_cast<unsigned long long>(run.allocations),
                    static_cast<unsigned long long>(run.heap_bytes), stack);
        complete = complete && run.status == 201 && run.body_sent == frames[i].size;
        if (i == 0) {
            first_stack = stack;
            first_heap = run.heap_bytes;
        } else {
            same = same && stack == first_stack && run.heap_bytes == first_heap;
        }
    }
    std::printf("\n  upload buffers: Uploader %zu + ResponseParser %zu = %zu bytes (limit 4096)\n",
                sizeof(camcloud::Uploader), sizeof(camcloud::ResponseParser), buffers);
    std::printf("  same heap and stack at every size: %s; buffers <= 4 KiB: %s; uploads complete: %s\n",
                same ? "yes" : "NO", buffers <= 4096 ? "yes" : "NO", complete ? "yes" : "NO");
    bool ota_ok = ota_report();
    return same && buffers <= 4096 && complete && ota_ok ? 0 : 1;
}
