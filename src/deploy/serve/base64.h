// base64.h: images inside JSON bodies ({"a": "<base64>"}) and aligned crops sent back to the
// page as data: URLs. RFC 4648 alphabet, with padding.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace face::serve {

std::string base64_encode(std::string_view bytes);

// The bytes, or nothing when `text` is not base64 (a wrong character, a bad length or padding).
// ASCII whitespace (line breaks of wrapped output) is skipped; a "data:...;base64," prefix is
// accepted, so a browser's FileReader.readAsDataURL result can be sent as it is.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace face::serve
