// jpeg_decoder.h: JPEG decoding that refuses damaged data.
//
// libjpeg recovers from corrupt entropy-coded data (a flipped byte, a bad Huffman code, a
// premature end) by printing an anonymous warning on stderr and filling the rest with grey; the
// result decodes "successfully" through OpenCV and would be aligned, packed and scored as a face.
// This decoder runs libjpeg itself with an error manager that turns every warning into a failure
// that names the file, so a damaged JPEG is refused wherever images are read (image_io.h).
#pragma once
#include <opencv2/core.hpp>

#include <string>

namespace face {

// Decodes JPEG `bytes` to 8-bit BGR (or 1-channel for grayscale JPEGs), as cv::imdecode would;
// an empty Mat for CMYK/YCCK JPEGs, which the caller decodes otherwise. face::Error naming `name`
// and libjpeg's message on any error or warning.
cv::Mat decode_jpeg_strict(const std::string& bytes, const std::string& name);

}  // namespace face
