// request_error.h: a failure that is the client's doing, with the HTTP status it earns.
//
// The service (face_service.h) throws RequestError for bad input it finds itself: an unknown
// gallery or person, a malformed field, several faces where one is needed. Images that cannot be
// read and faces not found arrive as vision/vision_error.h's VisionError instead, mapped to
// their status (400 bad_image, 413 image_too_large, 422 no_face / not_aligned) in
// http_service.cpp. Either becomes that status and a JSON body {"error": {"code", "message",
// "status"}}; `code` is stable for programs, `message` names the input for people. Any other
// exception is the server's fault: 500, and a line on stderr.
#pragma once
#include <fmt/format.h>

#include <string>
#include <utility>

#include "util/error.h"

namespace face::serve {

struct RequestError : Error {
  RequestError(int status, std::string code, const std::string& message)
      : Error(message), status(status), code(std::move(code)) {}
  int status;        // 4xx
  std::string code;  // e.g. "bad_image", "no_face", "unknown_gallery"
};

template <class... Args>
[[noreturn]] void reject(int status, const std::string& code, fmt::format_string<Args...> format, Args&&... args) {
  throw RequestError(status, code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace face::serve
