// Declaration-only host stand-in for arduino-esp32 2.0.x WebServer.h.
#pragma once

#include <functional>

#include "Arduino.h"

enum HTTPMethod {
    HTTP_ANY,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
};

class Uri {
public:
    Uri(const char* uri);
    Uri(const String& uri);
    virtual ~Uri();
};

class WebServer {
public:
    typedef std::function<void(void)> THandlerFunction;

    WebServer(int port = 80);
    virtual ~WebServer();
    virtual void begin();
    virtual void handleClient();
    void on(const Uri& uri, THandlerFunction fn);
    void on(const Uri& uri, HTTPMethod method, THandlerFunction fn);
    void onNotFound(THandlerFunction fn);
    void send(int code, const char* content_type = NULL, const String& content = String(""));
    void sendHeader(const String& name, const String& value, bool first = false);
};
