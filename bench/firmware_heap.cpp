// Heap and stack used by one firmware upload (host build of firmware/lib/camcloud_core) for
// 30 KB, 500 KB and 2 MB frames. SPEC quality bar: the same at every size, <= 4 KiB of buffers.
//
// Heap: malloc/calloc/realloc/free and operator new/delete are counted while the upload runs.
// Stack: the upload runs on a thread whose stack was painted beforehand; the deepest byte it
// changed, minus what an empty thread changes, is the upload's stack.
//
// Run: bash bench/firmware_heap.sh
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

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
    return same && buffers <= 4096 && complete ? 0 : 1;
}
