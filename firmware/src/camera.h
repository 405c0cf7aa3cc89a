// The Arducam Mega on SPI: a bounded probe, start-up with warm-up frames, captures with a
// capture-done timeout, low power around deep sleep, and its FIFO as a frame source.
//
// The real driver (Arducam_Mega 2.0.10) waits without a limit in two places: begin() spins on
// the I2C-idle bit, which never comes with no camera or a wiring fault, and takePicture() spins
// on the capture-done bit. On a board either is a hang until the task watchdog reboots it, at
// every boot. So this class probes the module before begin(), and captures through the driver's
// own register operations with a deadline instead of takePicture().
#pragma once

#include <Arducam_Mega.h>

#include <cstdint>

#include "camcloud/retry.h"
#include "camcloud/upload.h"

class Camera {
public:
    // How long the probe waits for the module to answer a sensor reset.
    static constexpr uint32_t kProbeTimeoutMs = 500;
    // Longest wait for one register write to reach the sensor over the module's I2C.
    static constexpr uint32_t kI2cTimeoutMs = 200;
    // Longest wait for capture-done; a 3MP frame at QXGA takes well under a second.
    static constexpr uint32_t kCaptureTimeoutMs = 3000;
    // The ingest's size limit: a FIFO length above it is a glitch, not a frame.
    static constexpr uint32_t kMaxFrameBytes = 8UL * 1024UL * 1024UL;

    explicit Camera(int cs_pin);
    // Wakes the module from low power (lowPowerOn() before deep sleep survives it), probes it
    // with a bounded wait, starts it and throws away `warmup_frames` frames so auto exposure and
    // white balance have settled. On "camera not found" it returns false within about
    // kProbeTimeoutMs and schedules the next probe with backoff (see retry_due()).
    bool begin(CAM_IMAGE_MODE mode, int warmup_frames);
    // For loop(): true when the camera is not ready and its next probe is due; call begin() then.
    bool retry_due(uint32_t now_ms) const;
    bool ready() const { return ready_; }
    // Takes a picture into the camera's FIFO; returns its length in bytes, 0 on failure. A
    // capture-done that never comes ends after kCaptureTimeoutMs and marks the camera for a
    // new probe.
    uint32_t capture();
    // The resolution of the next captures (written to the sensor by the next capture).
    void set_mode(CAM_IMAGE_MODE mode) { mode_ = mode; }
    CAM_IMAGE_MODE mode() const { return mode_; }
    // The JPEG quality level of the next captures (the driver's IMAGE_QUALITY: 0 high,
    // 1 default, 2 low), written to the sensor by the next capture when it changed.
    void set_quality(uint8_t level) { quality_ = level; }
    // Low-power mode for deep sleep; begin() leaves it again after the wake.
    void sleep();
    Arducam_Mega& device() { return device_; }

private:
    bool probe();
    bool wait_i2c_idle(uint32_t timeout_ms);
    bool write_sensor_register(uint8_t addr, uint8_t value);

    Arducam_Mega device_;
    int cs_pin_;
    CAM_IMAGE_MODE mode_ = CAM_IMAGE_MODE_QXGA;
    uint8_t quality_ = 1;          // DEFAULT_QUALITY
    uint8_t written_quality_ = 1;  // what the sensor has: its default after a reset
    bool ready_ = false;
    uint32_t failed_probes_ = 0;
    uint32_t next_probe_ms_ = 0;
    camcloud::RetryPolicy probe_policy_;
};

// Reads the frame in the camera's FIFO, at most 255 bytes per SPI burst (readBuff's limit), and
// feeds the watchdog as it goes: a 2 MB frame over slow WiFi takes a while.
class CameraFifoSource : public camcloud::FrameSource {
public:
    explicit CameraFifoSource(Arducam_Mega& device) : device_(device) {}
    uint8_t read(uint8_t* buffer, uint8_t max) override;

private:
    Arducam_Mega& device_;
};
