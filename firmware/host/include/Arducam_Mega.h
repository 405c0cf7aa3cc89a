// Declaration-only host stand-in for Arducam_Mega 2.0.10's Arducam_Mega.h (the class), with the
// C core's types from the stand-in Arducam/ArducamCamera.h. Signatures as in
// github.com/ArduCAM/Arducam_Mega at the commit platformio.ini pins. Host tests that link the
// real driver put FIRMWARE_DEPS's Arducam_Mega/src ahead of this folder instead.
#pragma once

#include "Arducam/ArducamCamera.h"

class Arducam_Mega {
private:
    ArducamCamera cameraInfo;

public:
    Arducam_Mega(int cs);
    CamStatus reset(void);
    CamStatus begin(void);
    CamStatus takePicture(CAM_IMAGE_MODE mode, CAM_IMAGE_PIX_FMT pixel_format);
    CamStatus takeMultiPictures(CAM_IMAGE_MODE mode, CAM_IMAGE_PIX_FMT pixel_format, uint8_t number);
    CamStatus startPreview(CAM_VIDEO_MODE mode);
    void captureThread(void);
    CamStatus stopPreview(void);
    CamStatus setAutoExposure(uint8_t val);
    CamStatus setAbsoluteExposure(uint32_t val);
    CamStatus setAutoISOSensitive(uint8_t val);
    CamStatus setISOSensitivity(int val);
    CamStatus setAutoWhiteBalance(uint8_t val);
    CamStatus setAutoWhiteBalanceMode(CAM_WHITE_BALANCE mode);
    CamStatus setColorEffect(CAM_COLOR_FX effect);
    CamStatus setAutoFocus(uint8_t val);
    CamStatus setSaturation(CAM_STAURATION_LEVEL level);
    CamStatus setEV(CAM_EV_LEVEL level);
    CamStatus setContrast(CAM_CONTRAST_LEVEL level);
    CamStatus setBrightness(CAM_BRIGHTNESS_LEVEL level);
    CamStatus setSharpness(CAM_SHARPNESS_LEVEL level);
    CamStatus setImageQuality(IMAGE_QUALITY qualtiy);
    uint8_t readBuff(uint8_t*, uint8_t);
    uint8_t readByte(void);
    void debugWriteRegister(uint8_t*);
    void registerCallBack(BUFFER_CALLBACK, uint8_t, STOP_HANDLE);
    void lowPowerOn(void);
    void lowPowerOff(void);
    uint32_t getTotalLength(void);
    uint32_t getReceivedLength(void);
    ArducamCamera* getCameraInstance(void);
};
