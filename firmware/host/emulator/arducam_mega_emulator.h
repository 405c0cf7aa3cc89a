// A register-level emulator of the Arducam Mega's SPI slave, written from the way the real
// driver (Arducam_Mega 2.0.10, src/Arducam/ArducamCamera.c) drives the module:
//
//   register write   CS low, (addr | 0x80), value, CS high
//   register read    CS low, addr, dummy, value, CS high
//   burst FIFO read  CS low, 0x3C, [one dummy byte on the first burst after a capture], data..., CS high
//   single FIFO read CS low, 0x3D, dummy, data, CS high
//
// Registers: 0x44 sensor state (bit 1: I2C idle, bit 2: capture done), 0x45-0x47 FIFO length
// (24 bits, low byte first), 0x04 FIFO control (0x01 clear the done flag, 0x02 start a capture),
// 0x07 sensor reset (0x40), 0x20 pixel format, 0x21 resolution, 0x02 power control (0x07 low
// power, 0x05 normal), 0x40 sensor id, 0x41-0x43 firmware date, 0x49 FPGA version.
//
// Timing runs on the simulated clock: a register write that goes to the sensor over I2C keeps
// the I2C-busy bit set for i2c_busy_ms; a capture completes capture_ms after it starts.
//
// Assumptions a real module may not share (README: "Verified here, and only on a real board"):
// reads past the end of the frame return pad_byte; in low-power mode captures never complete;
// the sensor reset (0x07) does not leave low-power mode.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "sim.h"

class ArducamMegaEmulator : public sim::SpiDevice {
public:
    // Registers the module on the simulated SPI bus at chip select `cs_pin`.
    explicit ArducamMegaEmulator(int cs_pin, uint8_t sensor_id = 0x82);
    ~ArducamMegaEmulator() override;

    void select() override;
    void deselect() override;
    uint8_t transfer(uint8_t mosi) override;

    // The frames the next captures put in the FIFO, in order; when empty, a JPEG-looking frame
    // is made whose size depends on the resolution register.
    std::deque<std::vector<uint8_t>> next_frames;
    // The FIFO length registers report this many bytes more than the FIFO holds.
    uint32_t fifo_overreport = 0;
    // What a read past the end of the frame returns.
    uint8_t pad_byte = 0x00;
    // A capture that never sets the done bit (a sensor that stopped answering).
    bool capture_never_completes = false;
    uint32_t i2c_busy_ms = 3;
    uint32_t capture_ms = 120;

    // What the driver did, for tests.
    bool low_power() const { return power_ == 0x07; }
    uint8_t resolution() const { return resolution_; }
    uint8_t pixel_format() const { return format_; }
    int captures_started() const { return captures_started_; }
    int sensor_resets() const { return sensor_resets_; }
    const std::vector<uint8_t>& fifo() const { return fifo_; }
    uint32_t fifo_read_position() const { return read_pos_; }
    // The frame a capture at this resolution produces when next_frames is empty.
    static std::vector<uint8_t> generated_frame(uint8_t resolution, uint32_t serial);
    // Puts the module in low-power mode as lowPowerOn() does (what survives the ESP32's deep
    // sleep: the module stays powered).
    void set_low_power(bool on) { power_ = on ? 0x07 : 0x05; }

private:
    enum class Phase { command, reg_read_dummy, reg_read_value, reg_write_value, burst, single_dummy,
                       single_data, done };
    uint8_t read_register(uint8_t addr);
    void write_register(uint8_t addr, uint8_t value);
    uint8_t next_fifo_byte();
    bool i2c_idle() const;

    int cs_pin_;
    uint8_t sensor_id_;
    Phase phase_ = Phase::done;
    uint8_t addr_ = 0;
    bool burst_primed_ = false;

    uint8_t power_ = 0x05;
    uint8_t format_ = 0;
    uint8_t resolution_ = 0;
    uint8_t frames_ = 0;
    uint8_t debug_address_ = 0;
    uint64_t i2c_busy_until_us_ = 0;
    bool capturing_ = false;
    uint64_t capture_done_at_us_ = 0;
    bool capture_done_ = false;
    int captures_started_ = 0;
    int sensor_resets_ = 0;
    uint32_t serial_ = 0;
    std::vector<uint8_t> fifo_;
    uint32_t fifo_length_ = 0;  // what the length registers report
    uint32_t read_pos_ = 0;
};
