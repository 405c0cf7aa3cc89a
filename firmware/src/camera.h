// The Arducam Mega on SPI: start-up with warm-up frames, captures, and its FIFO as a frame source.
#pragma once

#include <Arducam_Mega.h>

#include <cstdint>

#include "camcloud/upload.h"

class Camera {
public:
    explicit Camera(int cs_pin) : device_(cs_pin) {}
    // Starts the sensor and throws away `warmup_frames` frames so auto exposure and white
    // balance have settled before the first capture that counts.
    bool begin(CAM_IMAGE_MODE mode, int warmup_frames);
    // Takes a picture into the camera's FIFO; returns its length in bytes, 0 on failure.
    uint32_t capture();
    Arducam_Mega& device() { return device_; }

private:
    Arducam_Mega device_;
    CAM_IMAGE_MODE mode_ = CAM_IMAGE_MODE_QXGA;
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
