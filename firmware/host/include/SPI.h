// Declaration-only host stand-in for arduino-esp32 2.0.x SPI.h (the part ArducamSpi.cpp uses).
#pragma once

#include "Arduino.h"

#define SPI_MODE0 0
#define SPI_MSBFIRST 1
#define FSPI 0
#define HSPI 2
#define VSPI 3

class SPISettings {
public:
    SPISettings() : _clock(1000000), _bitOrder(SPI_MSBFIRST), _dataMode(SPI_MODE0) {}
    SPISettings(uint32_t clock, uint8_t bitOrder, uint8_t dataMode)
        : _clock(clock), _bitOrder(bitOrder), _dataMode(dataMode) {}
    uint32_t _clock;
    uint8_t _bitOrder;
    uint8_t _dataMode;
};

class SPIClass {
public:
    SPIClass(uint8_t spi_bus = HSPI);
    void begin(int8_t sck = -1, int8_t miso = -1, int8_t mosi = -1, int8_t ss = -1);
    void end();
    void setFrequency(uint32_t freq);
    void beginTransaction(SPISettings settings);
    void endTransaction(void);
    void transfer(void* data, uint32_t size);
    uint8_t transfer(uint8_t data);
};
extern SPIClass SPI;
