// Declaration-only host stand-in for the Arducam_Mega library V2.0.1 (Arducam_Mega.h and the
// types of Arducam/ArducamCamera.h it uses), signatures as in github.com/ArduCAM/Arducam_Mega.
#pragma once

#include <cstdint>

typedef enum {
    CAM_ERR_SUCCESS = 0,
    CAM_ERR_NO_CALLBACK = -1,
} CamStatus;

typedef enum {
    CAM_IMAGE_MODE_QQVGA = 0x00,
    CAM_IMAGE_MODE_QVGA = 0x01,
    CAM_IMAGE_MODE_VGA = 0x02,
    CAM_IMAGE_MODE_SVGA = 0x03,
    CAM_IMAGE_MODE_HD = 0x04,
    CAM_IMAGE_MODE_SXGAM = 0x05,
    CAM_IMAGE_MODE_UXGA = 0x06,
    CAM_IMAGE_MODE_FHD = 0x07,
    CAM_IMAGE_MODE_QXGA = 0x08,
    CAM_IMAGE_MODE_WQXGA2 = 0x09,
    CAM_IMAGE_MODE_96X96 = 0x0a,
    CAM_IMAGE_MODE_128X128 = 0x0b,
    CAM_IMAGE_MODE_320X320 = 0x0c,
} CAM_IMAGE_MODE;

typedef enum {
    CAM_IMAGE_PIX_FMT_RGB565 = 0x02,
    CAM_IMAGE_PIX_FMT_JPG = 0x01,
    CAM_IMAGE_PIX_FMT_YUV = 0x03,
    CAM_IMAGE_PIX_FMT_NONE,
} CAM_IMAGE_PIX_FMT;

class Arducam_Mega {
public:
    Arducam_Mega(int cs);
    CamStatus reset(void);
    CamStatus begin(void);
    CamStatus takePicture(CAM_IMAGE_MODE mode, CAM_IMAGE_PIX_FMT pixel_format);
    CamStatus setAutoExposure(uint8_t val);
    CamStatus setAutoISOSensitive(uint8_t val);
    CamStatus setAutoWhiteBalance(uint8_t val);
    uint8_t readBuff(uint8_t*, uint8_t);
    uint8_t readByte(void);
    void lowPowerOn(void);
    void lowPowerOff(void);
    uint32_t getTotalLength(void);
    uint32_t getReceivedLength(void);
};
