// Declaration-only host stand-in for the arduino-esp32 core (Arduino.h, esp32-hal-*.h, Esp.h,
// Print/Stream/String/IPAddress). Signatures follow arduino-esp32 2.0.x.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>

#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x01
#define OUTPUT 0x03
#define PULLUP 0x04
#define INPUT_PULLUP 0x05
#define PULLDOWN 0x08
#define INPUT_PULLDOWN 0x09
#define RISING 0x01
#define FALLING 0x02
#define CHANGE 0x03

#define IRAM_ATTR
#define RTC_DATA_ATTR
#define PGM_P const char*
#define NOT_AN_INTERRUPT -1
#define digitalPinToInterrupt(p) (((p) < 40) ? (p) : -1)

// As in arduino-esp32 2.0.x: a sketch defines this to size the loop task's stack.
size_t getArduinoLoopTaskStackSize(void);
#define SET_LOOP_TASK_STACK_SIZE(sz) \
    size_t getArduinoLoopTaskStackSize() { return sz; }

unsigned long millis(void);
unsigned long micros(void);
void delay(uint32_t ms);
void delayMicroseconds(uint32_t us);
void yield(void);
void pinMode(uint8_t pin, uint8_t mode);
int digitalRead(uint8_t pin);
void digitalWrite(uint8_t pin, uint8_t val);
void attachInterrupt(uint8_t pin, void (*)(void), int mode);
void detachInterrupt(uint8_t pin);

bool psramFound(void);
void* ps_malloc(size_t size);

void configTime(long gmtOffset_sec, int daylightOffset_sec, const char* server1,
                const char* server2 = nullptr, const char* server3 = nullptr);
bool getLocalTime(struct tm* info, uint32_t ms = 5000);

class String {
private:
    // Storage so host tests can define the class (sim/); the real one also owns a buffer.
    char* buffer_ = nullptr;
    unsigned int len_ = 0;

public:
    String(const char* cstr = "");
    String(const String& str);
    explicit String(int value, unsigned char base = 10);
    explicit String(unsigned long value, unsigned char base = 10);
    ~String(void);
    String& operator=(const String& rhs);
    const char* c_str() const;
    unsigned int length(void) const;
};

class Print {
public:
    virtual ~Print() {}
    virtual size_t write(uint8_t) = 0;
    virtual size_t write(const uint8_t* buffer, size_t size);
    size_t printf(const char* format, ...) __attribute__((format(printf, 2, 3)));
    size_t print(const char[]);
    size_t println(const char[]);
    size_t println(void);
};

class Stream : public Print {
public:
    virtual int available() = 0;
    virtual int read() = 0;
    virtual int peek() = 0;
    void setTimeout(unsigned long timeout);
};

class HardwareSerial : public Stream {
public:
    void begin(unsigned long baud, uint32_t config = 0x800001c, int8_t rxPin = -1,
               int8_t txPin = -1, bool invert = false, unsigned long timeout_ms = 20000UL,
               uint8_t rxfifo_full_thrhd = 112);
    int available(void) override;
    int peek(void) override;
    int read(void) override;
    size_t write(uint8_t) override;
    size_t write(const uint8_t* buffer, size_t size) override;
    void flush(void);
};
extern HardwareSerial Serial;

class IPAddress {
private:
    uint32_t address_ = 0;  // network order, as the real class keeps it

public:
    IPAddress();
    IPAddress(uint8_t first_octet, uint8_t second_octet, uint8_t third_octet, uint8_t fourth_octet);
    IPAddress(uint32_t address);
    virtual ~IPAddress() {}
    bool fromString(const char* address);
    operator uint32_t() const { return address_; }
    String toString() const;
};

class EspClass {
public:
    uint32_t getHeapSize();
    uint32_t getFreeHeap();
    uint32_t getMinFreeHeap();
    uint32_t getMaxAllocHeap();
    uint32_t getPsramSize();
    uint32_t getFreePsram();
    uint32_t getMaxAllocPsram();
    void restart();
};
extern EspClass ESP;
