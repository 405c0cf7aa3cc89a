#include "camera.h"

#include <Arduino.h>
#include <esp_task_wdt.h>

#include "app_config.h"

bool Camera::begin(CAM_IMAGE_MODE mode, int warmup_frames) {
    mode_ = mode;
    if (device_.begin() != CAM_ERR_SUCCESS) {
        CAMCLOUD_LOG("camera: not found on SPI (check wiring and CS pin %d)", CAMCLOUD_CAMERA_CS_PIN);
        return false;
    }
    for (int i = 0; i < warmup_frames; ++i) {
        esp_task_wdt_reset();
        device_.takePicture(mode_, CAM_IMAGE_PIX_FMT_JPG);
    }
    CAMCLOUD_LOG("camera: ready, %d warm-up frames discarded", warmup_frames);
    return true;
}

uint32_t Camera::capture() {
    if (device_.takePicture(mode_, CAM_IMAGE_PIX_FMT_JPG) != CAM_ERR_SUCCESS) return 0;
    return device_.getTotalLength();
}

uint8_t CameraFifoSource::read(uint8_t* buffer, uint8_t max) {
    uint32_t unread = device_.getReceivedLength();
    if (unread == 0 || max == 0) return 0;
    uint8_t want = unread < max ? static_cast<uint8_t>(unread) : max;
    esp_task_wdt_reset();
    return device_.readBuff(buffer, want);
}
