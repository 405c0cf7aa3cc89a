#include "camera.h"

#include <Arduino.h>
#include <esp_system.h>
#include <esp_task_wdt.h>

#include "app_config.h"

namespace {
// Registers of the module, as Arducam/ArducamCamera.c names them (the driver keeps them private).
constexpr uint8_t kRegPowerControl = 0x02;   // CAM_REG_POWER_CONTROL
constexpr uint8_t kPowerNormal = 0x05;       // what lowPowerOff() writes
constexpr uint8_t kRegSensorReset = 0x07;    // CAM_REG_SENSOR_RESET
constexpr uint8_t kSensorResetEnable = 0x40; // CAM_SENSOR_RESET_ENABLE
constexpr uint8_t kRegFormat = 0x20;         // CAM_REG_FORMAT
constexpr uint8_t kRegResolution = 0x21;     // CAM_REG_CAPTURE_RESOLUTION (| CAM_SET_CAPTURE_MODE)
constexpr uint8_t kRegImageQuality = 0x2A;   // CAM_REG_IMAGE_QUALITY (setImageQuality)
constexpr uint8_t kRegSensorId = 0x40;       // CAM_REG_SENSOR_ID
constexpr uint8_t kRegSensorState = 0x44;    // CAM_REG_SENSOR_STATE / ARDUCHIP_TRIG
constexpr uint8_t kStateMask = 0x03;
constexpr uint8_t kStateIdle = 0x02;         // CAM_REG_SENSOR_STATE_IDLE
constexpr uint8_t kCaptureDone = 0x04;       // CAP_DONE_MASK

bool known_sensor(uint8_t id) {
    return id == SENSOR_5MP_1 || id == SENSOR_3MP_1 || id == SENSOR_5MP_2 || id == SENSOR_3MP_2;
}
}  // namespace

Camera::Camera(int cs_pin) : device_(cs_pin), cs_pin_(cs_pin) {
    // No camera is not a reason to reboot: probe again after 5-10 s, then about twice as long
    // each time (with jitter), at most every 5 min.
    probe_policy_.base_ms = 10000;
    probe_policy_.cap_ms = 5UL * 60UL * 1000UL;
}

bool Camera::wait_i2c_idle(uint32_t timeout_ms) {
    ArducamCamera* cam = device_.getCameraInstance();
    uint32_t started = millis();
    while ((cam->arducamCameraOp->readReg(cam, kRegSensorState) & kStateMask) != kStateIdle) {
        if (millis() - started >= timeout_ms) return false;
        delay(2);
    }
    return true;
}

bool Camera::write_sensor_register(uint8_t addr, uint8_t value) {
    ArducamCamera* cam = device_.getCameraInstance();
    cam->arducamCameraOp->writeReg(cam, addr, value);
    return wait_i2c_idle(kI2cTimeoutMs);
}

bool Camera::probe() {
    ArducamCamera* cam = device_.getCameraInstance();
    // After a deep-sleep wake the module is still in the low-power mode lowPowerOn() set: the
    // sensor is off and a capture would never complete. Writing it with no module is harmless.
    cam->arducamCameraOp->writeReg(cam, kRegPowerControl, kPowerNormal);
    cam->arducamCameraOp->writeReg(cam, kRegSensorReset, kSensorResetEnable);
    if (!wait_i2c_idle(kProbeTimeoutMs)) {
        CAMCLOUD_LOG("camera not found: no answer on SPI within %lu ms (check wiring, power and "
                     "CS pin %d)",
                     static_cast<unsigned long>(kProbeTimeoutMs), cs_pin_);
        return false;
    }
    uint8_t id = cam->arducamCameraOp->readReg(cam, kRegSensorId);
    if (!known_sensor(id)) {
        CAMCLOUD_LOG("camera not found: sensor id 0x%02x is no Arducam Mega (check MISO/MOSI)",
                     static_cast<unsigned>(id));
        return false;
    }
    return true;
}

bool Camera::begin(CAM_IMAGE_MODE mode, int warmup_frames) {
    mode_ = mode;
    ready_ = false;
    esp_task_wdt_reset();
    if (!probe()) {
        uint32_t wait_ms = camcloud::backoff_delay_ms(probe_policy_, failed_probes_, esp_random());
        ++failed_probes_;
        next_probe_ms_ = millis() + wait_ms;
        CAMCLOUD_LOG("camera: probe %lu failed, next probe in %lu s",
                     static_cast<unsigned long>(failed_probes_),
                     static_cast<unsigned long>(wait_ms / 1000));
        return false;
    }
    // The module answered: the driver's begin() (a reset and a few register reads, each waiting
    // for I2C idle without a limit) now returns promptly.
    device_.begin();
    written_quality_ = 1;  // the reset put the sensor back to DEFAULT_QUALITY
    failed_probes_ = 0;
    ready_ = true;
    int discarded = 0;
    for (int i = 0; i < warmup_frames && ready_; ++i) {
        esp_task_wdt_reset();
        if (capture() > 0) ++discarded;
    }
    if (!ready_) return false;
    CAMCLOUD_LOG("camera: ready (sensor 0x%02x), %d warm-up frames discarded",
                 static_cast<unsigned>(device_.getCameraInstance()->cameraId), discarded);
    return true;
}

bool Camera::retry_due(uint32_t now_ms) const {
    return !ready_ && static_cast<int32_t>(now_ms - next_probe_ms_) >= 0;
}

uint32_t Camera::capture() {
    if (!ready_) return 0;
    ArducamCamera* cam = device_.getCameraInstance();
    const CameraOperations* op = cam->arducamCameraOp;
    cam->receivedLength = 0;
    cam->totalLength = 0;
    // What the driver's takePicture() does (cameraTakePicture + cameraSetCapture), with limits.
    if (cam->currentPixelFormat != CAM_IMAGE_PIX_FMT_JPG) {
        cam->currentPixelFormat = CAM_IMAGE_PIX_FMT_JPG;
        if (!write_sensor_register(kRegFormat, CAM_IMAGE_PIX_FMT_JPG)) {
            cam->currentPixelFormat = CAM_IMAGE_PIX_FMT_NONE;
            CAMCLOUD_LOG("camera: the sensor did not take the JPEG format");
            ready_ = false;
            return 0;
        }
    }
    if (cam->currentPictureMode != mode_) {
        cam->currentPictureMode = mode_;
        if (!write_sensor_register(kRegResolution, static_cast<uint8_t>(mode_))) {
            cam->currentPictureMode = CAM_IMAGE_MODE_NONE;
            CAMCLOUD_LOG("camera: the sensor did not take resolution mode %d", static_cast<int>(mode_));
            ready_ = false;
            return 0;
        }
    }
    if (written_quality_ != quality_) {
        // Bounded, unlike the driver's setImageQuality() (waitI2cIdle without a limit).
        if (!write_sensor_register(kRegImageQuality, quality_)) {
            CAMCLOUD_LOG("camera: the sensor did not take quality level %u", quality_);
            ready_ = false;
            return 0;
        }
        written_quality_ = quality_;
    }
    op->clearFifoFlag(cam);
    op->startCapture(cam);
    uint32_t started = millis();
    while (op->getBit(cam, kRegSensorState, kCaptureDone) == 0) {
        if (millis() - started >= kCaptureTimeoutMs) {
            CAMCLOUD_LOG("camera: no capture-done after %lu ms; probing the camera again",
                         static_cast<unsigned long>(kCaptureTimeoutMs));
            ready_ = false;
            next_probe_ms_ = millis();
            return 0;
        }
        esp_task_wdt_reset();
        delay(1);
    }
    uint32_t length = op->readFifoLength(cam);
    if (length == 0 || length > kMaxFrameBytes) {
        CAMCLOUD_LOG("camera: FIFO length %lu is not a frame", static_cast<unsigned long>(length));
        return 0;
    }
    cam->receivedLength = length;
    cam->totalLength = length;
    cam->burstFirstFlag = 0;  // the first burst of a new frame starts with a dummy byte
    return length;
}

void Camera::sleep() { device_.lowPowerOn(); }

uint8_t CameraFifoSource::read(uint8_t* buffer, uint8_t max) {
    uint32_t unread = device_.getReceivedLength();
    if (unread == 0 || max == 0) return 0;
    uint8_t want = unread < max ? static_cast<uint8_t>(unread) : max;
    esp_task_wdt_reset();
    return device_.readBuff(buffer, want);
}
