#include "arducam_mega_emulator.h"

namespace {
// Register map (ArducamCamera.c's names in comments).
constexpr uint8_t kRegFrames = 0x01;          // ARDUCHIP_FRAMES
constexpr uint8_t kRegPower = 0x02;           // CAM_REG_POWER_CONTROL
constexpr uint8_t kRegFifoControl = 0x04;     // ARDUCHIP_FIFO
constexpr uint8_t kRegSensorReset = 0x07;     // CAM_REG_SENSOR_RESET / ARDUCHIP_FIFO_2
constexpr uint8_t kRegDebugAddress = 0x0a;    // CAM_REG_DEBUG_DEVICE_ADDRESS
constexpr uint8_t kRegFormat = 0x20;          // CAM_REG_FORMAT
constexpr uint8_t kRegResolution = 0x21;      // CAM_REG_CAPTURE_RESOLUTION
constexpr uint8_t kRegBurstRead = 0x3c;       // BURST_FIFO_READ
constexpr uint8_t kRegSingleRead = 0x3d;      // SINGLE_FIFO_READ
constexpr uint8_t kRegSensorId = 0x40;        // CAM_REG_SENSOR_ID
constexpr uint8_t kRegYear = 0x41;
constexpr uint8_t kRegMonth = 0x42;
constexpr uint8_t kRegDay = 0x43;
constexpr uint8_t kRegSensorState = 0x44;     // CAM_REG_SENSOR_STATE / ARDUCHIP_TRIG
constexpr uint8_t kRegFifoSize1 = 0x45;
constexpr uint8_t kRegFifoSize2 = 0x46;
constexpr uint8_t kRegFifoSize3 = 0x47;
constexpr uint8_t kRegFpgaVersion = 0x49;

constexpr uint8_t kStateIdle = 0x02;          // CAM_REG_SENSOR_STATE_IDLE
constexpr uint8_t kStateCaptureDone = 0x04;   // CAP_DONE_MASK
constexpr uint8_t kFifoClearDone = 0x01;      // FIFO_CLEAR_ID_MASK
constexpr uint8_t kFifoStart = 0x02;          // FIFO_START_MASK
constexpr uint8_t kFifoFlush = 0x80;          // FIFO_CLEAR_MASK (written to 0x07)
constexpr uint8_t kSensorResetEnable = 0x40;  // CAM_SENSOR_RESET_ENABLE
constexpr uint8_t kPowerLow = 0x07;
}  // namespace

ArducamMegaEmulator::ArducamMegaEmulator(int cs_pin, uint8_t sensor_id)
    : cs_pin_(cs_pin), sensor_id_(sensor_id) {
    sim::spi().devices[cs_pin_] = this;
}

ArducamMegaEmulator::~ArducamMegaEmulator() {
    sim::SpiBus& bus = sim::spi();
    if (bus.selected == this) bus.selected = nullptr;
    auto found = bus.devices.find(cs_pin_);
    if (found != bus.devices.end() && found->second == this) bus.devices.erase(found);
}

void ArducamMegaEmulator::select() { phase_ = Phase::command; }

void ArducamMegaEmulator::deselect() { phase_ = Phase::done; }

uint8_t ArducamMegaEmulator::transfer(uint8_t mosi) {
    switch (phase_) {
        case Phase::command:
            addr_ = mosi & 0x7f;
            if (mosi & 0x80) {
                phase_ = Phase::reg_write_value;
            } else if (addr_ == kRegBurstRead) {
                phase_ = Phase::burst;
                // The first burst after a capture starts with one dummy byte (the driver's
                // burstFirstFlag); later bursts continue the stream at once.
                if (!burst_primed_) {
                    burst_primed_ = true;
                    phase_ = Phase::single_dummy;  // one dummy, then data
                    addr_ = kRegBurstRead;
                }
            } else if (addr_ == kRegSingleRead) {
                phase_ = Phase::single_dummy;
            } else {
                phase_ = Phase::reg_read_dummy;
            }
            return 0x00;
        case Phase::reg_write_value:
            write_register(addr_, mosi);
            phase_ = Phase::done;
            return 0x00;
        case Phase::reg_read_dummy:
            phase_ = Phase::reg_read_value;
            return 0x00;
        case Phase::reg_read_value:
            phase_ = Phase::done;
            return read_register(addr_);
        case Phase::single_dummy:
            phase_ = addr_ == kRegBurstRead ? Phase::burst : Phase::single_data;
            return 0x00;
        case Phase::single_data:
            phase_ = Phase::done;
            return next_fifo_byte();
        case Phase::burst:
            return next_fifo_byte();
        case Phase::done:
            break;
    }
    return 0x00;
}

bool ArducamMegaEmulator::i2c_idle() const { return sim::now_us() >= i2c_busy_until_us_; }

uint8_t ArducamMegaEmulator::read_register(uint8_t addr) {
    switch (addr) {
        case kRegSensorState: {
            if (capturing_ && sim::now_us() >= capture_done_at_us_) {
                capturing_ = false;
                capture_done_ = true;
            }
            uint8_t state = i2c_idle() ? kStateIdle : 0x00;
            if (capture_done_) state |= kStateCaptureDone;
            return state;
        }
        case kRegFifoSize1: return static_cast<uint8_t>(fifo_length_ & 0xff);
        case kRegFifoSize2: return static_cast<uint8_t>((fifo_length_ >> 8) & 0xff);
        case kRegFifoSize3: return static_cast<uint8_t>((fifo_length_ >> 16) & 0xff);
        case kRegSensorId: return sensor_id_;
        case kRegYear: return 24;
        case kRegMonth: return 6;
        case kRegDay: return 18;
        case kRegFpgaVersion: return 0x10;
        case kRegPower: return power_;
        case kRegFormat: return format_;
        case kRegResolution: return resolution_;
        case kRegFrames: return frames_;
        default: return 0x00;
    }
}

void ArducamMegaEmulator::write_register(uint8_t addr, uint8_t value) {
    uint64_t busy_until = sim::now_us() + static_cast<uint64_t>(i2c_busy_ms) * 1000;
    switch (addr) {
        case kRegSensorReset:
            if (value & kSensorResetEnable) {
                ++sensor_resets_;
                i2c_busy_until_us_ = busy_until;
            }
            if (value & kFifoFlush) {
                fifo_.clear();
                fifo_length_ = 0;
                read_pos_ = 0;
            }
            break;
        case kRegPower: power_ = value; break;
        case kRegFrames: frames_ = value; break;
        case kRegDebugAddress:
            debug_address_ = value;
            i2c_busy_until_us_ = busy_until;
            break;
        case kRegFormat:
            format_ = value;
            i2c_busy_until_us_ = busy_until;
            break;
        case kRegResolution:
            resolution_ = value & 0x7f;
            i2c_busy_until_us_ = busy_until;
            break;
        case kRegFifoControl:
            if (value & kFifoClearDone) capture_done_ = false;
            if (value & kFifoStart) {
                ++captures_started_;
                capture_done_ = false;
                capturing_ = !(capture_never_completes || power_ == kPowerLow);
                capture_done_at_us_ = sim::now_us() + static_cast<uint64_t>(capture_ms) * 1000;
                if (!next_frames.empty()) {
                    fifo_ = next_frames.front();
                    next_frames.pop_front();
                } else {
                    fifo_ = generated_frame(resolution_, ++serial_);
                }
                fifo_length_ = (static_cast<uint32_t>(fifo_.size()) + fifo_overreport) & 0xffffff;
                read_pos_ = 0;
                burst_primed_ = false;
            }
            break;
        default:
            // Image controls (0x22-0x35) go to the sensor over I2C.
            if (addr >= 0x22 && addr <= 0x35) i2c_busy_until_us_ = busy_until;
            break;
    }
}

uint8_t ArducamMegaEmulator::next_fifo_byte() {
    if (read_pos_ < fifo_.size()) return fifo_[read_pos_++];
    ++read_pos_;
    return pad_byte;
}

std::vector<uint8_t> ArducamMegaEmulator::generated_frame(uint8_t resolution, uint32_t serial) {
    // Roughly what the 3MP module's JPEGs weigh per resolution (QQVGA ... QXGA, WQXGA2).
    static const uint32_t kSizes[] = {4000,  9000,   28000,  40000,  90000,  110000, 160000,
                                      190000, 300000, 420000, 3000,  4500,   11000};
    uint32_t size = resolution < sizeof kSizes / sizeof kSizes[0] ? kSizes[resolution] : 20000;
    std::vector<uint8_t> frame(size);
    for (uint32_t i = 0; i < size; ++i) {
        frame[i] = static_cast<uint8_t>((i * 131 + serial * 7 + resolution) & 0xff);
    }
    frame[0] = 0xff;
    frame[1] = 0xd8;
    frame[2] = resolution;  // which mode made it, for tests
    frame[3] = static_cast<uint8_t>(serial);
    frame[size - 2] = 0xff;
    frame[size - 1] = 0xd9;
    return frame;
}
